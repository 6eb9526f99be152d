import { createHmac, timingSafeEqual } from 'node:crypto';
import { rarities, type BoxTable, type Rarity } from '../contracts/api/rules.js';

/**
 * Mystery box rolls that can be audited. The random draw is an HMAC of the box id under a
 * server secret: the server cannot pick a favourable outcome after the fact (the box id is fixed
 * before the roll), the user cannot predict it (the secret is unknown), and anyone holding the
 * secret can recompute a stored roll from its recorded inputs to prove it followed the odds.
 */

/** Versioned so stored rolls stay verifiable if the derivation ever changes. */
export const ROLL_ALGORITHM = 'hmac-sha256/v1';

type Odds = BoxTable['odds'];

export interface BoxRollInputs {
  boxId: string;
  /** How many of this user's boxes were opened since the last epic or legendary one. */
  opensSinceEpicOrBetter: number;
  table: BoxTable;
}

export interface BoxRoll {
  algorithm: typeof ROLL_ALGORITHM;
  boxId: string;
  /** HMAC-SHA256 of the box id, lowercase hex. */
  hmac: string;
  /** In [0, 1): the first 48 bits of the HMAC over 2^48. */
  uniform: number;
  odds: Odds;
  pityOpens: number;
  opensSinceEpicOrBetter: number;
  pityApplied: boolean;
  rarity: Rarity;
  points: number;
  /**
   * The table's points per rarity at roll time. Without it `points` could not be re-derived, so a
   * tampered amount would go unnoticed; tables are editable, so it is recorded rather than looked up.
   */
  pointsPerRarity: BoxTable['points'];
}

/** 48 bits fit a double's 53-bit mantissa, so the division is exact and never reaches 1. */
const UNIFORM_BYTES = 6;
const UNIFORM_SCALE = 2 ** (8 * UNIFORM_BYTES);
/** The rules schema accepts odds whose sum is this close to 100. */
const ODDS_SUM_TOLERANCE = 1e-9;
const HEX_DIGEST = /^[0-9a-f]{64}$/;

export function rollBox(secret: string, inputs: BoxRollInputs): BoxRoll {
  const { boxId, opensSinceEpicOrBetter, table } = inputs;
  assertValidInputs(inputs);
  const digest = hmacOf(secret, boxId);
  const uniform = digest.readUIntBE(0, UNIFORM_BYTES) / UNIFORM_SCALE;
  const pityApplied = opensSinceEpicOrBetter >= table.pityOpens - 1;
  // The pity roll reuses the same uniform, so it is as verifiable as a normal one.
  const rarity = rarityForUniform(uniform, pityApplied ? pityOdds(table.odds) : table.odds);
  return {
    algorithm: ROLL_ALGORITHM,
    boxId,
    hmac: digest.toString('hex'),
    uniform,
    odds: { ...table.odds },
    pityOpens: table.pityOpens,
    opensSinceEpicOrBetter,
    pityApplied,
    rarity,
    points: table.points[rarity],
    pointsPerRarity: { ...table.points },
  };
}

/**
 * Whether a stored roll is exactly what its recorded inputs give under this secret. It proves the
 * outcome followed from the inputs; whether the inputs (table, pity counter) were the right ones
 * has to be checked against their own records.
 */
export function verifyRoll(secret: string, roll: BoxRoll): boolean {
  let expected: BoxRoll;
  try {
    expected = rollBox(secret, {
      boxId: roll.boxId,
      opensSinceEpicOrBetter: roll.opensSinceEpicOrBetter,
      table: { key: 'verify', odds: roll.odds, pityOpens: roll.pityOpens, points: roll.pointsPerRarity },
    });
  } catch {
    // A stored roll with impossible inputs cannot have come from rollBox.
    return false;
  }
  return (
    roll.algorithm === expected.algorithm &&
    sameHexDigest(roll.hmac, expected.hmac) &&
    roll.uniform === expected.uniform &&
    roll.pityApplied === expected.pityApplied &&
    roll.rarity === expected.rarity &&
    roll.points === expected.points
  );
}

/**
 * The rarity whose cumulative band, in the fixed order common, rare, epic, legendary, holds
 * `uniform * 100`. Rarities at 0 % have an empty band and are skipped outright, so rounding can
 * never land on them.
 */
export function rarityForUniform(uniform: number, odds: Odds): Rarity {
  if (!(uniform >= 0 && uniform < 1)) throw new RangeError(`uniform must be in [0, 1), got ${uniform}`);
  const target = uniform * 100;
  let cumulative = 0;
  let lastPossible: Rarity | undefined;
  for (const rarity of rarities) {
    if (odds[rarity] <= 0) continue;
    cumulative += odds[rarity];
    lastPossible = rarity;
    if (target < cumulative) return rarity;
  }
  if (lastPossible === undefined) throw new RangeError('no rarity has positive odds');
  // Odds may sum to a hair under 100; the top sliver belongs to the last possible rarity.
  return lastPossible;
}

/** Epic and legendary rescaled to fill the whole range, keeping their ratio to each other. */
function pityOdds(odds: Odds): Odds {
  const better = odds.epic + odds.legendary;
  return { common: 0, rare: 0, epic: (100 * odds.epic) / better, legendary: (100 * odds.legendary) / better };
}

function hmacOf(secret: string, boxId: string): Buffer {
  return createHmac('sha256', secret).update(boxId, 'utf8').digest();
}

/** Constant-time, so a forged roll cannot learn a box's HMAC byte by byte from response times. */
function sameHexDigest(candidate: string, expected: string): boolean {
  if (typeof candidate !== 'string' || !HEX_DIGEST.test(candidate)) return false;
  return timingSafeEqual(Buffer.from(candidate, 'hex'), Buffer.from(expected, 'hex'));
}

/** Mirrors the rules schema, because verifyRoll feeds in tables rebuilt from stored rolls. */
function assertValidInputs({ boxId, opensSinceEpicOrBetter, table }: BoxRollInputs): void {
  if (typeof boxId !== 'string' || boxId.length === 0) throw new RangeError('boxId must be a non-empty string');
  if (!Number.isSafeInteger(opensSinceEpicOrBetter) || opensSinceEpicOrBetter < 0) {
    throw new RangeError(`opensSinceEpicOrBetter must be a non-negative integer, got ${opensSinceEpicOrBetter}`);
  }
  if (!Number.isSafeInteger(table.pityOpens) || table.pityOpens < 1) throw new RangeError(`pityOpens must be a positive integer, got ${table.pityOpens}`);
  const shares = rarities.map((rarity) => table.odds[rarity]);
  if (!shares.every((share) => Number.isFinite(share) && share >= 0 && share <= 100)) throw new RangeError('odds must be percentages');
  if (!rarities.every((rarity) => Number.isSafeInteger(table.points[rarity]) && table.points[rarity] >= 0)) {
    throw new RangeError('points must be non-negative integers');
  }
  const sum = shares.reduce((total, share) => total + share, 0);
  if (Math.abs(sum - 100) >= ODDS_SUM_TOLERANCE) throw new RangeError(`odds must add up to 100, got ${sum}`);
  // The pity rule grants epic or better, so at least one of them must be possible.
  if (table.odds.epic + table.odds.legendary <= 0) throw new RangeError('epic or legendary must have positive odds');
}
