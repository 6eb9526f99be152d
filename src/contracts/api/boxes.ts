import { z } from 'zod';
import { rarities } from './rules.js';

const odds = z.object({ common: z.number(), rare: z.number(), epic: z.number(), legendary: z.number() });

export const boxOddsSchema = z
  .object({
    tables: z.array(
      z.object({
        key: z.string(),
        /** Percent per rarity. */
        odds,
        /** After this many opens in a row without epic or better, the next is epic or better. */
        pityOpens: z.int(),
        points: z.object({ common: z.int(), rare: z.int(), epic: z.int(), legendary: z.int() }),
      }),
    ),
    algorithm: z.string(),
  })
  .meta({
    id: 'BoxOdds',
    example: {
      tables: [{ key: 'standard', odds: { common: 70, rare: 20, epic: 8, legendary: 2 }, pityOpens: 10, points: { common: 10, rare: 50, epic: 200, legendary: 1000 } }],
      algorithm: 'hmac-sha256/v1: uniform = first 48 bits of HMAC-SHA256(server secret, box id) / 2^48, mapped onto the cumulative odds',
    },
  });

export const openedBoxSchema = z
  .object({
    boxId: z.uuid(),
    table: z.string(),
    rarity: z.enum(rarities),
    points: z.int(),
    pityApplied: z.boolean(),
    openedAt: z.iso.datetime(),
    /** Every input of the roll, so it can be re-verified. */
    roll: z.record(z.string(), z.unknown()),
  })
  .meta({
    id: 'OpenedBox',
    example: {
      boxId: '0196f1c2-0000-7000-8000-000000000002',
      table: 'standard',
      rarity: 'rare',
      points: 50,
      pityApplied: false,
      openedAt: '2026-11-22T08:30:00.000Z',
      roll: { algorithm: 'hmac-sha256/v1', hmac: '9c1f…', uniform: 0.7512, opensSinceEpicOrBetter: 3, pityApplied: false, rarity: 'rare' },
    },
  });
export type OpenedBox = z.infer<typeof openedBoxSchema>;
