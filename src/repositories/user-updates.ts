import { pgArrayType, type Sql, type Transaction } from './db/client.js';
import type { SqlPick, SqlRow } from './db/rows.js';
import type { userUpdates, users } from './db/schema.js';
import type { SyncResult } from '../contracts/socket/contracts.js';
import type { UserUpdate, UserUpdateName, UserUpdatePayloads } from '../contracts/socket/user-updates.js';

/** An update to store: an event name with its own payload. */
export type NewUserUpdate = { [N in UserUpdateName]: { event: N; payload: UserUpdatePayloads[N] } }[UserUpdateName];

/** Updates to append for one user. */
export interface UpdatesOfUser {
  tenantId: string;
  userId: string;
  updates: NewUserUpdate[];
}

/**
 * Appends updates for several users inside the caller's transaction, in one statement. Each
 * user's seq counter is bumped under its row lock, so concurrent writers for one user serialise
 * and a rolled back transaction leaves no gap. The same statement records the new seqs as a
 * pending push (see `pendingPushes`), so they reach the hubs even if this process dies before
 * handing them over. Answers each user's stored updates, in order.
 */
export async function appendUpdates(tx: Transaction, batches: readonly UpdatesOfUser[]): Promise<UserUpdate[][]> {
  const rows = batches.flatMap((batch, index) => batch.updates.map((update) => ({ index, batch, update })));
  if (rows.length === 0) return batches.map(() => []);
  const column = <T>(pick: (row: (typeof rows)[number]) => T) => rows.map(pick);
  // Timestamps arrive as strings here: drizzle, sharing this client, replaces postgres.js's date parsers.
  const bumped = await tx<(SqlPick<typeof users, 'id'> & { base: string; at: string })[]>`
    with input as (
      select * from unnest(${tx.array(column((r) => r.batch.userId), pgArrayType.uuid)}::uuid[], ${tx.array(column((r) => r.batch.tenantId), pgArrayType.uuid)}::uuid[],
                           ${tx.array(column((r) => r.update.event), pgArrayType.text)}::text[], ${tx.array(column((r) => JSON.stringify(r.update.payload)), pgArrayType.text)}::text[])
        with ordinality as t(user_id, tenant_id, type, payload, ord)
    ), counts as (
      select user_id, tenant_id, count(*) as n from input group by user_id, tenant_id
    ), bumped as (
      update users u set last_update_seq = u.last_update_seq + c.n from counts c
      where u.id = any(${tx.array([...new Set(batches.map((batch) => batch.userId))], pgArrayType.uuid)}::uuid[]) and u.id = c.user_id and u.tenant_id = c.tenant_id
      returning u.id, u.last_update_seq - c.n as base, now() as at
    ), inserted as (
      insert into user_updates (user_id, seq, tenant_id, type, payload, created_at)
      select i.user_id, b.base + row_number() over (partition by i.user_id order by i.ord), i.tenant_id, i.type, i.payload::jsonb, b.at
      from input i join bumped b on b.id = i.user_id
    ), pending as (
      insert into pending_pushes (user_id, to_seq, from_seq, tenant_id)
      select b.id, b.base + c.n, b.base + 1, c.tenant_id from bumped b join counts c on c.user_id = b.id
    )
    select id, base, at from bumped`;
  const byUser = new Map(bumped.map((row) => [row.id, { next: Number(row.base) + 1, at: new Date(row.at).toISOString() }]));
  return batches.map((batch) => {
    const counter = byUser.get(batch.userId);
    if (!counter) throw new Error(`user ${batch.userId} not found in tenant ${batch.tenantId}`);
    // Each event name travels with its own payload; TypeScript cannot correlate the two through map().
    return batch.updates.map((update) => ({ event: update.event, data: { ...update.payload, seq: counter.next++, at: counter.at } }) as UserUpdate);
  });
}

export async function appendUserUpdates(tx: Transaction, tenantId: string, userId: string, updates: NewUserUpdate[]): Promise<UserUpdate[]> {
  return (await appendUpdates(tx, [{ tenantId, userId, updates }]))[0] ?? [];
}

/** A stored update row as read back: its type is one of the update names. */
type StoredUpdateRow = SqlPick<typeof userUpdates, 'seq' | 'payload' | 'created_at'> & { type: UserUpdateName };

/** A stored update row as clients receive it (the event name travels with its own payload). */
const toUserUpdate = (row: StoredUpdateRow): UserUpdate =>
  ({ event: row.type, data: { ...row.payload, seq: Number(row.seq), at: new Date(row.created_at).toISOString() } }) as UserUpdate;

/**
 * What a client that last saw `after` has missed, oldest first. Incomplete (reload the snapshot)
 * when some of it was pruned or when there is more than `limit`.
 */
export async function updatesSince(sql: Sql, userId: string, after: number, limit: number): Promise<SyncResult> {
  const [user] = await sql<{ last: SqlRow<typeof users>['last_update_seq'] }[]>`select last_update_seq as last from users where id = ${userId}`;
  const latest = Number(user?.last ?? 0);
  if (after >= latest) return { updates: [], seq: latest, complete: true };
  const rows = await sql<StoredUpdateRow[]>`
    select seq, type, payload, created_at from user_updates
    where user_id = ${userId} and seq > ${after}
    order by seq limit ${Math.min(latest - after, limit + 1)}`;
  const complete = rows.length === latest - after && Number(rows[0]?.seq) === after + 1;
  if (!complete) return { updates: [], seq: latest, complete: false };
  return {
    updates: rows.map(toUserUpdate),
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

/** Pushes handed over: their pending records go. */
export async function confirmPushes(sql: Sql, pushed: readonly { userId: string; toSeq: number }[]): Promise<void> {
  if (pushed.length === 0) return;
  await sql`
    delete from pending_pushes p
    using unnest(${sql.array(pushed.map((push) => push.userId), pgArrayType.uuid)}::uuid[], ${sql.array(pushed.map((push) => push.toSeq), pgArrayType.int8)}::bigint[]) as d(user_id, to_seq)
    where p.user_id = d.user_id and p.to_seq = d.to_seq`;
}

/**
 * Pushes recorded more than `olderThanSeconds` ago and never confirmed, with their stored
 * updates: taken (and deleted) inside `tx`, so they come back if handing them over fails.
 */
export async function takeOverduePushes(tx: Transaction, olderThanSeconds: number, limit: number): Promise<{ tenantId: string; userId: string; updates: UserUpdate[] }[]> {
  const rows = await tx<(SqlPick<typeof userUpdates, 'user_id' | 'tenant_id'> & StoredUpdateRow)[]>`
    with due as (
      delete from pending_pushes where ctid = any(array(
        select ctid from pending_pushes where created_at < now() - make_interval(secs => ${olderThanSeconds})
        order by created_at limit ${limit} for update skip locked))
      returning user_id, tenant_id, from_seq, to_seq)
    select d.user_id, d.tenant_id, u.seq, u.type, u.payload, u.created_at
    from due d join user_updates u on u.user_id = d.user_id and u.seq between d.from_seq and d.to_seq
    order by d.user_id, u.seq`;
  const byUser = new Map<string, { tenantId: string; userId: string; updates: UserUpdate[] }>();
  for (const row of rows) {
    const entry = byUser.get(row.user_id) ?? { tenantId: row.tenant_id, userId: row.user_id, updates: [] };
    entry.updates.push(toUserUpdate(row));
    byUser.set(row.user_id, entry);
  }
  return [...byUser.values()];
}
