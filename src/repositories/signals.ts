import type { FusedSignal, FusedSignalInput } from '../contracts/api/signals.js';
import type { FusedValue, SignalReading } from '../domain/fusion.js';
import { pgArrayType, type Sql, type Transaction } from './db/client.js';
import { idsByTenantKey, tenantKey } from './tenant-keys.js';

/** One signal: a key of a tenant, tenant-wide (`userId` null) or of one user (internal id). */
export interface SignalScope {
  tenantId: string;
  userId: string | null;
  key: string;
}

/** A reading ready to store: ids resolved, `observedAt` an ISO instant. */
export interface NewReading {
  id: string;
  tenantId: string;
  userId: string | null;
  key: string;
  source: string;
  value: number;
  sigma: number | null;
  unit: string | null;
  observedAt: string;
  idempotencyKey: string | null;
}

/** The id a reading is stored under: its own, or that of the reading that already held its idempotency key. */
export interface StoredReading {
  id: string;
  duplicate: boolean;
}

/** `user_id = $` for a user's signal, `user_id is null` for a tenant-wide one: both use the indexes. */
const sameUser = (sql: Sql | Transaction, userId: string | null) => (userId === null ? sql`user_id is null` : sql`user_id = ${userId}`);

/**
 * Stores readings and their outbox rows in one statement (atomic: the relay sees a reading only
 * once it is stored), deduplicated by idempotency key within the tenant; the outbox trigger wakes
 * the relays. Readings whose key was already taken answer the stored reading's id.
 */
export async function insertReadings(sql: Sql, readings: readonly NewReading[]): Promise<StoredReading[]> {
  const column = <K extends keyof NewReading>(name: K) => readings.map((reading) => reading[name]);
  const inserted = await sql<{ id: string }[]>`
    with t as materialized (
      select * from unnest(
        ${sql.array(column('id'), pgArrayType.uuid)}, ${sql.array(column('tenantId'), pgArrayType.uuid)},
        ${sql.array(column('userId'), pgArrayType.uuid)}, ${sql.array(column('key'), pgArrayType.text)},
        ${sql.array(column('source'), pgArrayType.text)}, ${sql.array(column('value'), pgArrayType.float8)},
        ${sql.array(column('sigma'), pgArrayType.float8)}, ${sql.array(column('unit'), pgArrayType.text)},
        ${sql.array(column('observedAt'), pgArrayType.text)}::timestamptz[], ${sql.array(column('idempotencyKey'), pgArrayType.text)})
        as t(id, tenant_id, user_id, key, source, value, sigma, unit, observed_at, idempotency_key)
    ), inserted as (
      insert into signal_readings (id, tenant_id, user_id, key, source, value, sigma, unit, observed_at, idempotency_key)
      select * from t
      on conflict (tenant_id, idempotency_key) do nothing
      returning id, tenant_id, user_id, key, observed_at, value
    ), relayed as (
      insert into outbox (event_id, kind, tenant_id, user_id, type, occurred_at, value)
      select id, 'signal', tenant_id, user_id, key, observed_at, value from inserted
    )
    select id from inserted`;
  const stored = new Set(inserted.map((row) => row.id));
  const lost = readings.filter((reading) => !stored.has(reading.id) && reading.idempotencyKey !== null);
  const holders = await idsByTenantKey(
    sql,
    'signal_readings',
    lost.map((reading) => ({ tenantId: reading.tenantId, key: reading.idempotencyKey as string })),
  );
  return readings.map((reading) => {
    if (stored.has(reading.id)) return { id: reading.id, duplicate: false };
    const holder = holders.get(tenantKey(reading.tenantId, reading.idempotencyKey ?? ''));
    // A key repeated inside this very batch: the first of them was stored, the others are its duplicates.
    if (holder === undefined) throw new Error(`signal reading ${reading.id} was neither stored nor a duplicate`);
    return { id: holder, duplicate: true };
  });
}

/**
 * Takes the signal's pending outbox rows: they are done once this transaction commits. Deleted
 * before the readings are read, so every reading whose row this takes is visible to that read
 * (a later statement of the transaction); a reading committed after it keeps its row, and its
 * fusion job, queued behind this one, picks it up.
 */
export async function takeSignalOutbox(tx: Transaction, scope: SignalScope): Promise<number> {
  const rows = await tx`
    delete from outbox where kind = 'signal' and tenant_id = ${scope.tenantId} and type = ${scope.key} and ${sameUser(tx, scope.userId)}`;
  return rows.count;
}

/** Sources reporting one signal that fusion looks at, at most. */
export const MAX_SOURCES_PER_SIGNAL = 100;

/** Each source's newest reading of the signal observed since `since` (a source's newer reading replaces its older one). */
export async function latestReadings(tx: Transaction, scope: SignalScope, since: Date): Promise<(SignalReading & { unit: string | null })[]> {
  // Timestamps arrive as text: drizzle shares this client and turns postgres.js's date parsing off.
  const rows = await tx<{ source: string; value: number; sigma: number | null; unit: string | null; observed_at: string }[]>`
    select distinct on (source) source, value, sigma, unit, observed_at from signal_readings
    where tenant_id = ${scope.tenantId} and key = ${scope.key} and ${sameUser(tx, scope.userId)} and observed_at >= ${since.toISOString()}
    order by source, observed_at desc, id desc
    limit ${MAX_SOURCES_PER_SIGNAL}`;
  return rows.map((row) => ({ source: row.source, value: row.value, sigma: row.sigma, unit: row.unit, observedAt: new Date(row.observed_at) }));
}

/** A tenant-wide signal of a batch (user_id null), named by its tenant and key. */
export interface TenantSignal {
  tenantId: string;
  key: string;
}

const signalArrays = (sql: Sql | Transaction, signals: readonly TenantSignal[]) => [
  sql.array(signals.map((signal) => signal.tenantId), pgArrayType.uuid),
  sql.array(signals.map((signal) => signal.key), pgArrayType.text),
] as const;

/**
 * For a batch of tenant-wide signals, in one statement: when each was last fused (undefined if
 * never), and the outbox rows of those fused at or before `dueBy` (those that may be fused now)
 * taken, as `takeSignalOutbox` does for one signal: run it before the readings are read. The rows
 * of a signal fused after `dueBy` stay until the fusion that waits out its interval takes them.
 */
export async function takeDueSignalOutboxes(tx: Transaction, signals: readonly TenantSignal[], dueBy: Date): Promise<Map<string, Date | undefined>> {
  const [tenantIds, keys] = signalArrays(tx, signals);
  const rows = await tx<{ tenant_id: string; key: string; computed_at: string | null }[]>`
    with wanted as (
      select s.tenant_id, s.key, f.computed_at from unnest(${tenantIds}, ${keys}) as s(tenant_id, key)
      left join fused_signals f on f.tenant_id = s.tenant_id and f.key = s.key and f.user_id is null
    ), taken as (
      delete from outbox o using wanted w
      where o.kind = 'signal' and o.tenant_id = w.tenant_id and o.type = w.key and o.user_id is null
        and (w.computed_at is null or w.computed_at <= ${dueBy.toISOString()})
    )
    select tenant_id, key, computed_at from wanted`;
  return new Map(rows.map((row) => [tenantKey(row.tenant_id, row.key), row.computed_at === null ? undefined : new Date(row.computed_at)]));
}

/**
 * `latestReadings` for a batch of tenant-wide signals in one statement, each with its own
 * `since`; by `tenantKey` (a signal with no reading in its window is absent).
 */
export async function latestReadingsOfSignals(
  tx: Transaction,
  signals: readonly (TenantSignal & { since: Date })[],
): Promise<Map<string, (SignalReading & { unit: string | null })[]>> {
  const [tenantIds, keys] = signalArrays(tx, signals);
  const since = tx.array(signals.map((signal) => signal.since.toISOString()), pgArrayType.text);
  const rows = await tx<{ tenant_id: string; key: string; source: string; value: number; sigma: number | null; unit: string | null; observed_at: string }[]>`
    select s.tenant_id, s.key, r.source, r.value, r.sigma, r.unit, r.observed_at
    from unnest(${tenantIds}, ${keys}, ${since}::timestamptz[]) as s(tenant_id, key, since)
    cross join lateral (
      select distinct on (source) source, value, sigma, unit, observed_at from signal_readings
      where tenant_id = s.tenant_id and key = s.key and user_id is null and observed_at >= s.since
      order by source, observed_at desc, id desc
      limit ${MAX_SOURCES_PER_SIGNAL}
    ) r`;
  const bySignal = new Map<string, (SignalReading & { unit: string | null })[]>();
  for (const row of rows) {
    const id = tenantKey(row.tenant_id, row.key);
    const reading = { source: row.source, value: row.value, sigma: row.sigma, unit: row.unit, observedAt: new Date(row.observed_at) };
    const readings = bySignal.get(id);
    if (readings) readings.push(reading);
    else bySignal.set(id, [reading]);
  }
  return bySignal;
}

/** The public view of a fused value. */
export function fusedSignalView(scope: { key: string; externalUserId: string | null; unit: string | null }, fused: FusedValue): FusedSignal {
  return {
    key: scope.key,
    userId: scope.externalUserId,
    value: fused.value,
    sigma: fused.sigma,
    ci95: fused.ci95,
    ...(scope.unit === null ? {} : { unit: scope.unit }),
    method: fused.method,
    computedAt: fused.computedAt.toISOString(),
    inputs: fused.inputs.map(
      (input): FusedSignalInput => ({ ...input, observedAt: input.observedAt.toISOString() }),
    ),
  };
}

/** Stores fused values as their signals' latest and appends each to its signal's history, in one statement. */
export async function saveFused(tx: Transaction, fused: readonly { scope: SignalScope; signal: FusedSignal }[]): Promise<void> {
  if (fused.length === 0) return;
  const column = <T>(pick: (entry: { scope: SignalScope; signal: FusedSignal }) => T) => fused.map(pick);
  await tx`
    with t as materialized (
      select * from unnest(
        ${tx.array(column((e) => e.scope.tenantId), pgArrayType.uuid)}, ${tx.array(column((e) => e.scope.userId), pgArrayType.uuid)},
        ${tx.array(column((e) => e.scope.key), pgArrayType.text)}, ${tx.array(column((e) => e.signal.value), pgArrayType.float8)},
        ${tx.array(column((e) => e.signal.sigma), pgArrayType.float8)}, ${tx.array(column((e) => e.signal.ci95[0]), pgArrayType.float8)},
        ${tx.array(column((e) => e.signal.ci95[1]), pgArrayType.float8)}, ${tx.array(column((e) => e.signal.unit ?? null), pgArrayType.text)},
        ${tx.array(column((e) => e.signal.method), pgArrayType.text)}, ${tx.array(column((e) => JSON.stringify(e.signal.inputs)), pgArrayType.text)}::jsonb[],
        ${tx.array(column((e) => e.signal.computedAt), pgArrayType.text)}::timestamptz[])
        as t(tenant_id, user_id, key, value, sigma, lo, hi, unit, method, inputs, computed_at)
    ), latest as (
      insert into fused_signals (tenant_id, user_id, key, value, sigma, lo, hi, unit, method, inputs, computed_at)
      select * from t
      on conflict on constraint fused_signals_scope do update set
        value = excluded.value, sigma = excluded.sigma, lo = excluded.lo, hi = excluded.hi, unit = excluded.unit,
        method = excluded.method, inputs = excluded.inputs, computed_at = excluded.computed_at
    )
    insert into fused_signal_history (tenant_id, user_id, key, value, lo, hi, computed_at)
    select tenant_id, user_id, key, value, lo, hi, computed_at from t`;
}

/** When the signal was last fused, if ever. */
export async function lastFusedAt(sql: Sql, scope: SignalScope): Promise<Date | undefined> {
  const [row] = await sql<{ computed_at: string }[]>`
    select computed_at from fused_signals where tenant_id = ${scope.tenantId} and key = ${scope.key} and ${sameUser(sql, scope.userId)}`;
  return row ? new Date(row.computed_at) : undefined;
}

interface FusedRow {
  key: string;
  external_id: string | null;
  value: number;
  sigma: number;
  lo: number;
  hi: number;
  unit: string | null;
  method: FusedSignal['method'];
  inputs: FusedSignalInput[];
  computed_at: string;
}

const viewOfRow = (row: FusedRow): FusedSignal => ({
  key: row.key,
  userId: row.external_id,
  value: row.value,
  sigma: row.sigma,
  ci95: [row.lo, row.hi],
  ...(row.unit === null ? {} : { unit: row.unit }),
  method: row.method,
  computedAt: new Date(row.computed_at).toISOString(),
  inputs: row.inputs,
});

/** Latest fused values of a tenant: its tenant-wide signals, or one user's (internal id); optionally one key. */
export async function listFused(sql: Sql | Transaction, filter: { tenantId: string; userId: string | null; key?: string }): Promise<FusedSignal[]> {
  const rows = await sql<FusedRow[]>`
    select f.key, u.external_id, f.value, f.sigma, f.lo, f.hi, f.unit, f.method, f.inputs, f.computed_at
    from fused_signals f left join users u on u.id = f.user_id
    where f.tenant_id = ${filter.tenantId} and ${filter.userId === null ? sql`f.user_id is null` : sql`f.user_id = ${filter.userId}`}
      ${filter.key === undefined ? sql`` : sql`and f.key = ${filter.key}`}
    order by f.key`;
  return rows.map(viewOfRow);
}

/** Fused values in [from, to], one point per step (the step's last value and band), oldest first. */
export async function fusedHistory(
  sql: Sql,
  scope: SignalScope,
  window: { from: Date; to: Date; stepSeconds: number },
): Promise<{ at: string; value: number; lo: number; hi: number }[]> {
  const rows = await sql<{ at: string; value: number; lo: number; hi: number }[]>`
    select distinct on (bucket) bucket as at, value, lo, hi from (
      select date_bin(make_interval(secs => ${window.stepSeconds}), computed_at, ${window.from.toISOString()}::timestamptz) as bucket, value, lo, hi, computed_at, id
      from fused_signal_history
      where tenant_id = ${scope.tenantId} and key = ${scope.key} and ${sameUser(sql, scope.userId)}
        and computed_at >= ${window.from.toISOString()} and computed_at <= ${window.to.toISOString()}
    ) points
    order by bucket, computed_at desc, id desc`;
  return rows.map((row) => ({ at: new Date(row.at).toISOString(), value: row.value, lo: row.lo, hi: row.hi }));
}

/** Drops history and readings older than the retention; answers how many rows went. */
export async function pruneSignals(sql: Sql, retentionDays: number): Promise<number> {
  const cutoff = sql`now() - make_interval(days => ${retentionDays})`;
  const history = await sql`delete from fused_signal_history where computed_at < ${cutoff}`;
  const readings = await sql`delete from signal_readings where received_at < ${cutoff}`;
  return history.count + readings.count;
}
