import { pgArrayType, type Sql, type Transaction } from '../db/client.js';
import type { SyncResult } from '../socket/contracts.js';
import type { UserUpdate, UserUpdateName, UserUpdatePayloads } from '../socket/user-updates.js';

/** An update to store: an event name with its own payload. */
export type NewUserUpdate = { [N in UserUpdateName]: { event: N; payload: UserUpdatePayloads[N] } }[UserUpdateName];

/**
 * Appends updates for one user inside the caller's transaction. The seq counter on the user's
 * row is bumped under its row lock, so concurrent writers for one user serialise and a rolled
 * back transaction leaves no gap.
 */
export async function appendUserUpdates(tx: Transaction, tenantId: string, userId: string, updates: NewUserUpdate[]): Promise<UserUpdate[]> {
  // One statement (one round trip): the counter is bumped and the rows inserted from its old value.
  // Timestamps arrive as strings here: drizzle, sharing this client, replaces postgres.js's date parsers.
  const [row] = await tx<{ base: string; at: string }[]>`
    with bumped as (
      update users set last_update_seq = last_update_seq + ${updates.length}
      where id = ${userId} and tenant_id = ${tenantId}
      returning last_update_seq - ${updates.length} as base, now() as at
    ), inserted as (
      insert into user_updates (user_id, seq, tenant_id, type, payload, created_at)
      select ${userId}, bumped.base + t.ord, ${tenantId}, t.type, t.payload::jsonb, bumped.at
      from bumped, unnest(${tx.array(updates.map((u) => u.event), pgArrayType.text)}::text[], ${tx.array(updates.map((u) => JSON.stringify(u.payload)), pgArrayType.text)}::text[])
        with ordinality as t(type, payload, ord)
    )
    select base, at from bumped`;
  if (!row) throw new Error(`user ${userId} not found in tenant ${tenantId}`);
  const base = Number(row.base);
  const at = new Date(row.at).toISOString();
  // Each event name travels with its own payload; TypeScript cannot correlate the two through map().
  return updates.map((update, i) => ({ event: update.event, data: { ...update.payload, seq: base + i + 1, at } }) as UserUpdate);
}

/**
 * What a client that last saw `after` has missed, oldest first. Incomplete (reload the snapshot)
 * when some of it was pruned or when there is more than `limit`.
 */
export async function updatesSince(sql: Sql, userId: string, after: number, limit: number): Promise<SyncResult> {
  const [user] = await sql<{ last: string }[]>`select last_update_seq as last from users where id = ${userId}`;
  const latest = Number(user?.last ?? 0);
  if (after >= latest) return { updates: [], seq: latest, complete: true };
  const rows = await sql<{ seq: string; type: UserUpdateName; payload: Record<string, unknown>; created_at: string }[]>`
    select seq, type, payload, created_at from user_updates
    where user_id = ${userId} and seq > ${after}
    order by seq limit ${Math.min(latest - after, limit + 1)}`;
  const complete = rows.length === latest - after && Number(rows[0]?.seq) === after + 1;
  if (!complete) return { updates: [], seq: latest, complete: false };
  return {
    updates: rows.map((row) => ({ event: row.type, data: { ...row.payload, seq: Number(row.seq), at: new Date(row.created_at).toISOString() } }) as UserUpdate),
    seq: latest,
    complete: true,
  };
}

/** Deletes updates older than the retention, in chunks so no single statement holds locks for long. */
export async function pruneUserUpdates(sql: Sql, retentionDays: number): Promise<number> {
  let removed = 0;
  for (;;) {
    const result = await sql`
      delete from user_updates where ctid in (
        select ctid from user_updates where created_at < now() - make_interval(days => ${retentionDays}) limit 10000)`;
    removed += result.count;
    if (result.count < 10_000) return removed;
  }
}
