import type { OpenedBox } from '../contracts/api/boxes.js';
import type { EngineRules } from '../contracts/api/rules.js';
import type { Sql } from '../repositories/db/client.js';
import { sqlColumns, type SqlPick, type SqlPickSet } from '../repositories/db/rows.js';
import { boxes } from '../repositories/db/schema.js';
import { rollBox, type BoxRoll } from '../domain/boxes.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import { grantRewards } from '../repositories/rewards.js';
import { appendUserUpdates, type NewUserUpdate } from '../repositories/user-updates.js';
import { inUserTransaction } from './user-locks.js';

export type OpenBoxOutcome =
  | { kind: 'opened'; box: OpenedBox; updates: UserUpdate[] }
  | { kind: 'already_opened'; box: OpenedBox }
  | { kind: 'not_found' }
  | { kind: 'unknown_table'; table: string };

const BOX_COLUMNS = sqlColumns(boxes, 'id', 'table_key', 'opened_at', 'roll');

/** A box as opening reads it; the stored roll is the one `rollBox` made. */
type BoxRow = Omit<SqlPick<typeof boxes, (typeof BOX_COLUMNS)[number]>, 'roll'> & { roll: BoxRoll | null };

const asOpened = (row: SqlPick<typeof boxes, 'id' | 'table_key'>, roll: BoxRoll, openedAt: string): OpenedBox => ({
  boxId: row.id,
  table: row.table_key,
  rarity: roll.rarity,
  points: roll.points,
  pityApplied: roll.pityApplied,
  openedAt: new Date(openedAt).toISOString(),
  roll: { ...roll },
});

/**
 * Opens one of the user's boxes, idempotently: a box opened before answers its stored result.
 * The user's row is locked first (`inUserTransaction`), so concurrent opens of different boxes count the pity streak
 * one after the other; the roll, the points it holds (through the ledger, once per box) and the
 * `box:opened` update commit together.
 */
export async function openBox(sql: Sql, target: { tenantId: string; userId: string; boxId: string }, rules: EngineRules, secret: string): Promise<OpenBoxOutcome> {
  return inUserTransaction(sql, [target.userId], async (tx): Promise<OpenBoxOutcome> => {
    const [box] = await tx<BoxRow[]>`
      select ${tx(BOX_COLUMNS)} from boxes where id = ${target.boxId} and user_id = ${target.userId} and tenant_id = ${target.tenantId}`;
    if (!box) return { kind: 'not_found' };
    if (box.opened_at && box.roll) return { kind: 'already_opened', box: asOpened(box, box.roll, box.opened_at) };
    const table = rules.boxTables.find((candidate) => candidate.key === box.table_key);
    if (!table) return { kind: 'unknown_table', table: box.table_key };
    const [streak] = await tx<{ opens: number }[]>`
      select count(*)::int as opens from boxes
      where user_id = ${target.userId} and opened_at is not null
        and opened_at > coalesce((select max(opened_at) from boxes where user_id = ${target.userId} and rarity in ('epic', 'legendary')), '-infinity')`;
    const roll = rollBox(secret, { boxId: box.id, opensSinceEpicOrBetter: streak?.opens ?? 0, table });
    // JSON text and a cast: drizzle, sharing this client, replaces postgres.js's json serializer.
    const [opened] = await tx<SqlPickSet<typeof boxes, 'opened_at'>[]>`
      update boxes set opened_at = clock_timestamp(), rarity = ${roll.rarity}, roll = ${JSON.stringify(roll)}::jsonb where id = ${box.id} returning opened_at`;
    const result = asOpened(box, roll, opened?.opened_at ?? new Date().toISOString());
    const changes: NewUserUpdate[] = [{ event: 'box:opened', payload: { boxId: box.id, rarity: roll.rarity, points: roll.points, pityApplied: roll.pityApplied } }];
    if (roll.points > 0) {
      const granted = await grantRewards(tx, [{ tenantId: target.tenantId, userId: target.userId, source: 'box', sourceKey: box.id, spec: { kind: 'points', amount: roll.points } }]);
      for (const payload of granted) if (payload) changes.push({ event: 'reward:granted', payload });
    }
    return { kind: 'opened', box: result, updates: await appendUserUpdates(tx, target.tenantId, target.userId, changes) };
  });
}
