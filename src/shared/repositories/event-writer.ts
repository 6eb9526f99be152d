import { v7 as uuidv7 } from 'uuid';
import { pgArrayType, type Sql } from '../db/client.js';
import { errorFields, type Logger } from '../logger.js';
import { GroupCommit } from '../runtime/group-commit.js';
import { UserDirectory } from './users.js';

export interface EventInput {
  type: string;
  occurredAt: Date;
  value?: number;
  data?: Record<string, unknown>;
  idempotencyKey?: string;
  /** The internal user id (token callers) or the tenant's external id (API-key callers). */
  user: { id: string } | { externalId: string };
}

export interface AcceptedEvent {
  id: string;
  idempotencyKey: string | null;
  duplicate: boolean;
}

interface Write {
  tenantId: string;
  events: EventInput[];
}

/**
 * Durable ingestion with group commit: writes from concurrent requests that arrive while
 * commits are in flight are gathered into the next one, which inserts all their events and
 * outbox rows with one array statement. Every caller resolves only after the commit that holds
 * its events, so a 202 always means "in Postgres". Two commits may overlap, so a batch can be
 * filled while the previous one waits on the server.
 */
export class EventWriter {
  private readonly commits: GroupCommit<Write, AcceptedEvent[]>;

  constructor(
    private readonly sql: Sql,
    private readonly users: UserDirectory,
    logger: Logger,
    maxEventsPerCommit = 2_000,
    maxCommitsInFlight = 2,
  ) {
    this.commits = new GroupCommit({
      commit: (writes) => this.commit(writes),
      sizeOf: (write) => write.events.length,
      maxSize: maxEventsPerCommit,
      maxInFlight: maxCommitsInFlight,
      // One bad write (say, a tenant deleted meanwhile) must not fail its neighbours: they are retried alone.
      onBatchFailure: (error, writes) => logger.warn('group commit failed; retrying its writes one by one', { writes, ...errorFields(error) }),
    });
  }

  write(tenantId: string, events: EventInput[]): Promise<AcceptedEvent[]> {
    return this.commits.submit({ tenantId, events });
  }

  /**
   * Users are created first, in their own statement: harmless if the events then fail, and it
   * keeps the common case (users already known) to one statement. Events and their outbox rows
   * go in one data-modifying CTE, which Postgres applies atomically; the outbox trigger notifies
   * the relays. Only when keys collide with committed events does a lookup follow.
   */
  private async commit(batch: Write[]): Promise<AcceptedEvent[][]> {
    const resolvedUsers = await this.users.resolveIds(
      this.sql,
      batch.flatMap((write) =>
        write.events.flatMap((event) => ('externalId' in event.user ? [{ tenantId: write.tenantId, externalId: event.user.externalId }] : [])),
      ),
    );
    const rows = new Rows();
    const results = batch.map((write) =>
      write.events.map((event) => {
        const userId = 'id' in event.user ? event.user.id : (resolvedUsers.get(UserDirectory.key(write.tenantId, event.user.externalId)) as string);
        return rows.add(write.tenantId, userId, event);
      }),
    );
    const sql = this.sql;
    const inserted = new Set(
      (
        await sql<{ id: string }[]>`
          with inserted as (
            insert into events (id, tenant_id, user_id, type, occurred_at, value, data, idempotency_key)
            select id, tenant_id, user_id, type, occurred_at, value, data::jsonb, idempotency_key
            from unnest(
              ${sql.array(rows.ids, pgArrayType.uuid)}, ${sql.array(rows.tenantIds, pgArrayType.uuid)},
              ${sql.array(rows.userIds, pgArrayType.uuid)}, ${sql.array(rows.types, pgArrayType.text)},
              ${sql.array(rows.occurredAts, pgArrayType.text)}::timestamptz[], ${sql.array(rows.values, pgArrayType.float8)},
              ${sql.array(rows.datas, pgArrayType.text)}, ${sql.array(rows.keys, pgArrayType.text)})
              as t(id, tenant_id, user_id, type, occurred_at, value, data, idempotency_key)
            on conflict (tenant_id, idempotency_key) do nothing
            returning id, tenant_id, user_id, type, occurred_at, value
          ), relayed as (
            insert into outbox (event_id, tenant_id, user_id, type, occurred_at, value) select id, tenant_id, user_id, type, occurred_at, value from inserted
          )
          select id from inserted`
      ).map((row) => row.id),
    );
    await rows.resolveExistingDuplicates(sql, inserted);
    return results.map((accepted) => accepted.map((ref) => ref.result()));
  }
}

/** A reference to one accepted event whose final id is known only after the insert. */
class EventRef {
  constructor(
    private id: string,
    readonly idempotencyKey: string | null,
    private duplicate: boolean,
  ) {}

  settle(id: string, duplicate: boolean) {
    this.id = id;
    this.duplicate = duplicate;
  }

  result(): AcceptedEvent {
    return { id: this.id, idempotencyKey: this.idempotencyKey, duplicate: this.duplicate };
  }
}

/** Column arrays for one multi-row insert, with idempotency keys deduplicated inside the batch. */
class Rows {
  readonly ids: string[] = [];
  readonly tenantIds: string[] = [];
  readonly userIds: string[] = [];
  readonly types: string[] = [];
  readonly occurredAts: string[] = [];
  readonly values: (number | null)[] = [];
  readonly datas: (string | null)[] = [];
  readonly keys: (string | null)[] = [];
  /** First ref per (tenant, key) in this batch, and every later ref sharing it. */
  private readonly byKey = new Map<string, { first: EventRef; index: number; followers: EventRef[] }>();

  add(tenantId: string, userId: string, event: EventInput): EventRef {
    const key = event.idempotencyKey ?? null;
    if (key !== null) {
      const existing = this.byKey.get(`${tenantId}\u0000${key}`);
      if (existing) {
        const follower = new EventRef('', key, true);
        existing.followers.push(follower);
        return follower;
      }
    }
    const id = uuidv7();
    const ref = new EventRef(id, key, false);
    const index = this.ids.length;
    this.ids.push(id);
    this.tenantIds.push(tenantId);
    this.userIds.push(userId);
    this.types.push(event.type);
    this.occurredAts.push(event.occurredAt.toISOString());
    this.values.push(event.value ?? null);
    this.datas.push(event.data === undefined ? null : JSON.stringify(event.data));
    this.keys.push(key);
    if (key !== null) this.byKey.set(`${tenantId}\u0000${key}`, { first: ref, index, followers: [] });
    return ref;
  }

  /** Keys that lost to an event committed earlier take that event's id, flagged duplicate. */
  async resolveExistingDuplicates(sql: Sql, inserted: Set<string>): Promise<void> {
    const lost = [...this.byKey.values()].filter((entry) => !inserted.has(this.ids[entry.index] as string));
    if (lost.length > 0) {
      const tenantIds = lost.map((entry) => this.tenantIds[entry.index] as string);
      const keys = lost.map((entry) => this.keys[entry.index] as string);
      const rows = await sql<{ id: string; tenant_id: string; idempotency_key: string }[]>`
        select e.id, e.tenant_id, e.idempotency_key from events e
        join unnest(${sql.array(tenantIds, pgArrayType.uuid)}, ${sql.array(keys, pgArrayType.text)}) as wanted(tenant_id, idempotency_key)
          on e.tenant_id = wanted.tenant_id and e.idempotency_key = wanted.idempotency_key
        -- Repeated as array conditions so even Postgres's generic plan of this prepared statement scans the index, not the table.
        where e.tenant_id = any(${sql.array(tenantIds, pgArrayType.uuid)}) and e.idempotency_key = any(${sql.array(keys, pgArrayType.text)})`;
      const existing = new Map(rows.map((row) => [`${row.tenant_id}\u0000${row.idempotency_key}`, row.id]));
      for (const entry of lost) {
        const id = existing.get(`${this.tenantIds[entry.index] as string}\u0000${entry.first.idempotencyKey as string}`);
        if (!id) throw new Error('idempotency conflict without a committed event');
        entry.first.settle(id, true);
      }
    }
    for (const entry of this.byKey.values()) {
      const { id } = entry.first.result();
      for (const follower of entry.followers) follower.settle(id, true);
    }
  }

}
