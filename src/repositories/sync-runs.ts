import { v7 as uuidv7 } from 'uuid';
import type { SyncRunFigures, SyncState } from '../contracts/api/connections.js';
import { planPage, type IncomingRecord, type PagePlan, type RecordMapping, type StoredRecord } from '../domain/synced-records.js';
import { pgArrayType, type Sql, type Transaction } from './db/client.js';
import type { ConnectionRow } from './connections.js';

/** Why a sync could not take its connection. */
export type ClaimRefusal = 'not_found' | 'not_active' | 'busy';

/** The connection's columns a sync reads, as postgres.js returns them. */
export type SyncConnection = Pick<ConnectionRow, 'id' | 'tenantId' | 'provider' | 'settings' | 'mapping' | 'cursor' | 'status'> & { rateLimitedUntil: Date | null };

/** The page's outcome: what the plan upserted and how many events Postgres took (a key seen before adds none). */
export interface StoredPage {
  records: number;
  events: number;
  unmatched: number;
}

/** The sync lease was taken over (this run was presumed dead): its work stops without writing. */
export class SyncLeaseLostError extends Error {
  constructor(readonly connectionId: string) {
    super('another run took over this connection’s sync');
    this.name = 'SyncLeaseLostError';
  }
}

/** jsonb as postgres.js hands it over on the client drizzle shares (parsed, or text on some paths). */
const fromJson = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

const toConnection = (row: Record<string, unknown>): SyncConnection => ({
  id: row.id as string,
  tenantId: row.tenant_id as string,
  provider: row.provider as ConnectionRow['provider'],
  settings: fromJson(row.settings) as ConnectionRow['settings'],
  mapping: fromJson(row.mapping) as ConnectionRow['mapping'],
  cursor: fromJson(row.cursor) as ConnectionRow['cursor'],
  status: row.status as ConnectionRow['status'],
  rateLimitedUntil: row.rate_limited_until ? new Date(row.rate_limited_until as string) : null,
});

/**
 * A connection's sync runs: the lease that keeps one sync of a connection at a time, and the
 * page transaction that stores records, their events (through the outbox, like REST ingest) and
 * the checkpoint together, so a run killed anywhere resumes from its last stored page.
 */
export class SyncRuns {
  constructor(
    private readonly sql: Sql,
    private readonly leaseMs: number,
  ) {}

  /**
   * Takes the connection for the job `jobId`: free, already this job's (a retry, or the same job
   * redone after its worker died), or held by a run that stopped renewing its lease.
   */
  async claim(connectionId: string, jobId: string): Promise<SyncConnection | ClaimRefusal> {
    const [row] = await this.sql`
      update connections set sync_job_id = ${jobId}, sync_state = 'running', sync_heartbeat_at = now(),
        last_sync_started_at = case when sync_job_id is distinct from ${jobId} then now() else last_sync_started_at end,
        updated_at = now()
      where id = ${connectionId} and status = 'active'
        and (sync_job_id is null or sync_job_id = ${jobId} or sync_heartbeat_at < now() - make_interval(secs => ${this.leaseMs / 1000}))
      returning id, tenant_id, provider, settings, mapping, cursor, status, rate_limited_until`;
    if (row) return toConnection(row);
    const [current] = await this.sql<{ status: string }[]>`select status from connections where id = ${connectionId}`;
    if (!current) return 'not_found';
    return current.status === 'active' ? 'busy' : 'not_active';
  }

  /**
   * Stores one page in one transaction: the records (deduplicated, unchanged ones skipped), the
   * events of those that count, their outbox rows, the checkpoint and the counts, provided the
   * lease is still this job's. Records are matched to users by the mapping's field against the
   * tenant's external ids; those no user matches are stored unmatched (listed by the API).
   */
  async storePage(connection: SyncConnection, jobId: string, records: IncomingRecord[], cursor: Record<string, unknown>, run: SyncRunFigures): Promise<StoredPage> {
    return this.sql.begin(async (tx) => {
      const [lease] = await tx`select sync_job_id from connections where id = ${connection.id} for update`;
      if (!lease || lease.sync_job_id !== jobId) throw new SyncLeaseLostError(connection.id);
      const ids = records.map((record) => record.id);
      const stored = new Map<string, StoredRecord>();
      for (const row of await tx<{ remote_id: string; version: string; kind: string; user_id: string | null }[]>`
        select remote_id, version, kind, user_id from synced_records where connection_id = ${connection.id} and remote_id = any(${tx.array(ids, pgArrayType.text)})`) {
        stored.set(row.remote_id, { version: row.version, kind: row.kind, userId: row.user_id });
      }
      const mapping: RecordMapping = connection.mapping;
      const keys = [...new Set(records.flatMap((record) => record.userKeys[mapping.userField] ?? []))];
      const users = new Map<string, string>();
      for (const row of await tx<{ id: string; external_id: string }[]>`
        select id, external_id from users where tenant_id = ${connection.tenantId} and external_id = any(${tx.array(keys, pgArrayType.text)})`) {
        users.set(row.external_id, row.id);
      }
      const plan = planPage(connection.provider, records, stored, users, mapping);
      const events = await insertEvents(tx, connection, plan);
      await upsertRecords(tx, connection.id, plan, events.ids);
      const figures: SyncRunFigures = { ...run, pages: run.pages + 1, records: run.records + plan.upserts.length, events: run.events + events.inserted, unmatched: run.unmatched + plan.unmatched };
      await tx`
        update connections set cursor = ${JSON.stringify(cursor)}::jsonb, sync_heartbeat_at = now(), updated_at = now(),
          records_synced = records_synced + ${plan.upserts.length}, events_created = events_created + ${events.inserted},
          unmatched_records = greatest(unmatched_records + ${plan.unmatchedDelta}, 0), last_run = ${JSON.stringify(figures)}::jsonb
        where id = ${connection.id}`;
      return { records: plan.upserts.length, events: events.inserted, unmatched: plan.unmatched };
    });
  }

  /** Renews the lease without a page (a run waiting out a provider's pause); false when it was lost. */
  async heartbeat(connectionId: string, jobId: string, state: SyncState = 'running', rateLimitedUntil: Date | null = null): Promise<boolean> {
    const rows = await this.sql`
      update connections set sync_heartbeat_at = greatest(now(), ${rateLimitedUntil?.toISOString() ?? null}::timestamptz), sync_state = ${state},
        rate_limited_until = ${rateLimitedUntil?.toISOString() ?? null}::timestamptz, updated_at = now()
      where id = ${connectionId} and sync_job_id = ${jobId} returning id`;
    return rows.length > 0;
  }

  /** Ends the run: the lease is released; a failure is recorded (and the status changed when given). */
  async finish(connectionId: string, jobId: string, outcome: { run: SyncRunFigures; error?: string; status?: ConnectionRow['status'] }): Promise<void> {
    await this.sql`
      update connections set sync_job_id = null, sync_heartbeat_at = null, rate_limited_until = null,
        sync_state = ${outcome.error === undefined ? 'idle' : 'failed'}, last_run = ${JSON.stringify(outcome.run)}::jsonb,
        last_sync_finished_at = now(), updated_at = now(),
        last_error = ${outcome.error ?? null}, last_error_at = case when ${outcome.error ?? null}::text is null then last_error_at else now() end,
        status = coalesce(${outcome.status ?? null}::text, status)
      where id = ${connectionId} and (sync_job_id = ${jobId} or sync_job_id is null)`;
  }
}

/** The plan's events and their outbox rows (the relay hands them to the engine); a key seen before is skipped. */
async function insertEvents(tx: Transaction, connection: SyncConnection, plan: PagePlan): Promise<{ inserted: number; ids: Map<string, string> }> {
  const planned = plan.upserts.filter((entry) => entry.event !== undefined && entry.userId !== null);
  const ids = new Map<string, string>();
  if (planned.length === 0) return { inserted: 0, ids };
  const rows = planned.map((entry) => {
    const id = uuidv7();
    ids.set(entry.record.id, id);
    return {
      id,
      userId: entry.userId as string,
      type: entry.event?.type as string,
      occurredAt: entry.record.occurredAt.toISOString(),
      value: entry.record.value,
      data: JSON.stringify({ source: 'sync', provider: connection.provider, connectionId: connection.id, recordId: entry.record.id, kind: entry.record.kind, currency: entry.record.currency }),
      key: entry.event?.idempotencyKey as string,
    };
  });
  const inserted = await tx<{ id: string }[]>`
    with t as (
      select * from unnest(${tx.array(rows.map((row) => row.id), pgArrayType.uuid)}, ${tx.array(rows.map((row) => row.userId), pgArrayType.uuid)},
        ${tx.array(rows.map((row) => row.type), pgArrayType.text)}, ${tx.array(rows.map((row) => row.occurredAt), pgArrayType.text)}::timestamptz[],
        ${tx.array(rows.map((row) => row.value), pgArrayType.float8)}, ${tx.array(rows.map((row) => row.data), pgArrayType.text)},
        ${tx.array(rows.map((row) => row.key), pgArrayType.text)}) as t(id, user_id, type, occurred_at, value, data, idempotency_key)
    ), inserted as (
      insert into events (id, tenant_id, user_id, type, occurred_at, value, data, idempotency_key)
      select id, ${connection.tenantId}::uuid, user_id, type, occurred_at, value, data::jsonb, idempotency_key from t
      on conflict (tenant_id, idempotency_key) do nothing
      returning id, tenant_id, user_id, type, occurred_at, value
    ), relayed as (
      insert into outbox (event_id, tenant_id, user_id, type, occurred_at, value) select id, tenant_id, user_id, type, occurred_at, value from inserted
    )
    select id from inserted`;
  const kept = new Set(inserted.map((row) => row.id));
  for (const [recordId, id] of ids) if (!kept.has(id)) ids.delete(recordId);
  return { inserted: inserted.length, ids };
}

async function upsertRecords(tx: Transaction, connectionId: string, plan: PagePlan, eventIds: Map<string, string>): Promise<void> {
  if (plan.upserts.length === 0) return;
  const entries = plan.upserts;
  await tx`
    insert into synced_records (connection_id, remote_id, version, kind, user_key, user_id, event_id, occurred_at, value, currency, updated_at)
    select ${connectionId}::uuid, *, now() from unnest(
      ${tx.array(entries.map((entry) => entry.record.id), pgArrayType.text)}, ${tx.array(entries.map((entry) => entry.record.version), pgArrayType.text)},
      ${tx.array(entries.map((entry) => entry.record.kind), pgArrayType.text)}, ${tx.array(entries.map((entry) => entry.userKey), pgArrayType.text)},
      ${tx.array(entries.map((entry) => entry.userId), pgArrayType.uuid)}, ${tx.array(entries.map((entry) => eventIds.get(entry.record.id) ?? null), pgArrayType.uuid)},
      ${tx.array(entries.map((entry) => entry.record.occurredAt.toISOString()), pgArrayType.text)}::timestamptz[],
      ${tx.array(entries.map((entry) => entry.record.value), pgArrayType.float8)}, ${tx.array(entries.map((entry) => entry.record.currency), pgArrayType.text)})
    on conflict (connection_id, remote_id) do update set version = excluded.version, kind = excluded.kind, user_key = excluded.user_key,
      user_id = excluded.user_id, event_id = coalesce(excluded.event_id, synced_records.event_id), occurred_at = excluded.occurred_at,
      value = excluded.value, currency = excluded.currency, updated_at = now()`;
}
