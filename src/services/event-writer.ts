import { v7 as uuidv7 } from 'uuid';
import { pgArrayType, type Sql } from '../repositories/db/client.js';
import { errorFields, type Logger } from '../platform/logger.js';
import { GroupCommit, ItemFailure } from '../platform/group-commit.js';
import { idsByTenantKey, tenantKey } from '../repositories/tenant-keys.js';
import { UserDirectory } from '../repositories/users.js';

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

/**
 * An event that Postgres will take from the shared statement: checked and serialised by its
 * own caller before it joins a batch, so a value that cannot be stored fails that caller alone.
 */
interface PreparedEvent {
  type: string;
  occurredAt: string;
  value: number | null;
  data: string | null;
  idempotencyKey: string | null;
  user: { id: string } | { externalId: string };
}

interface Write {
  tenantId: string;
  events: PreparedEvent[];
}

/** An event Postgres cannot store (the API's validation should have refused it first); nothing of its write is stored. */
export class UnstorableEventError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    reason: string,
  ) {
    super(`event ${index}: ${field} ${reason}`);
    this.name = 'UnstorableEventError';
  }
}

/** A write whose user is gone (deleted, or its tenant deleted, since the caller was authenticated). */
export class UnknownUserError extends Error {
  constructor() {
    super('the user of this write no longer exists');
    this.name = 'UnknownUserError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Text Postgres stores as given: no NUL (text and jsonb refuse it) and no lone UTF-16 surrogate
 * (encoded as U+FFFD, so a key or user id would no longer match itself; jsonb refuses the escape).
 */
const storableText = (value: string) => value.isWellFormed() && !value.includes('\u0000');

/**
 * JSON.stringify writes NUL and lone surrogates as `\u` escapes, which jsonb refuses: one that
 * follows an odd run of backslashes is such an escape, not text that merely looks like one.
 */
const UNSTORABLE_JSON_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

function prepare(events: EventInput[]): PreparedEvent[] {
  return events.map((event, index) => {
    const refuse = (field: string, reason: string) => new UnstorableEventError(index, field, reason);
    const text = (field: string, value: string) => {
      if (typeof value !== 'string' || !storableText(value)) throw refuse(field, 'must be text without NUL characters or lone UTF-16 surrogates');
      return value;
    };
    text('type', event.type);
    if (event.idempotencyKey !== undefined) text('idempotencyKey', event.idempotencyKey);
    if ('id' in event.user) {
      if (typeof event.user.id !== 'string' || !UUID.test(event.user.id)) throw refuse('user.id', 'must be a UUID');
    } else text('userId', event.user.externalId);
    if (event.value !== undefined && typeof event.value !== 'number') throw refuse('value', 'must be a number');
    if (!(event.occurredAt instanceof Date) || Number.isNaN(event.occurredAt.getTime())) throw refuse('occurredAt', 'must be a valid date');
    let data: string | null = null;
    if (event.data !== undefined) {
      try {
        data = JSON.stringify(event.data);
      } catch (error) {
        // Too deep for the stack, a cycle, a BigInt: the caller's problem, not the batch's.
        throw refuse('data', `cannot be serialised as JSON (${error instanceof Error ? error.message : String(error)})`);
      }
      if (UNSTORABLE_JSON_ESCAPE.test(data)) throw refuse('data', 'must not hold NUL characters or lone UTF-16 surrogates');
    }
    return {
      type: event.type,
      occurredAt: event.occurredAt.toISOString(),
      value: event.value ?? null,
      data,
      idempotencyKey: event.idempotencyKey ?? null,
      user: event.user,
    };
  });
}

/**
 * Durable ingestion with group commit: writes from concurrent requests that arrive while
 * commits are in flight are gathered into the next one, which inserts all their events and
 * outbox rows with one array statement. Every caller resolves only after the commit that holds
 * its events, so a 202 always means "in Postgres". Two commits may overlap, so a batch can be
 * filled while the previous one waits on the server.
 *
 * One tenant's bad writes must not fail or slow another's. Values Postgres would refuse are
 * refused before a write joins a batch (`UnstorableEventError`, its caller's alone); a write
 * whose user is gone is left out by the insert itself and fails alone (`UnknownUserError`); any
 * other failure of a batch is bisected by the group commit.
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
      // A failed batch is split between tenants first: one tenant's bad write cannot bisect another's.
      groupOf: (write) => write.tenantId,
      maxSize: maxEventsPerCommit,
      maxInFlight: maxCommitsInFlight,
      // One bad write (say, a tenant deleted meanwhile) must not fail its neighbours: the batch is retried in halves.
      onBatchFailure: (error, writes) => logger.warn('group commit failed; retrying its writes in two halves', { writes, ...errorFields(error) }),
    });
  }

  /** Checked and serialised here, before joining a batch: an event Postgres cannot store rejects this call alone. */
  async write(tenantId: string, events: EventInput[]): Promise<AcceptedEvent[]> {
    if (!UUID.test(tenantId)) throw new UnstorableEventError(0, 'tenantId', 'must be a UUID');
    const prepared = prepare(events);
    return this.commits.submit({ tenantId, events: prepared });
  }

  /**
   * Users are created first, in their own statement: harmless if the events then fail, and it
   * keeps the common case (users already known) to one statement. Events and their outbox rows
   * go in one data-modifying CTE, which Postgres applies atomically; the outbox trigger notifies
   * the relays. Only when keys collide with committed events does a lookup follow.
   */
  private async commit(batch: Write[]): Promise<(AcceptedEvent[] | ItemFailure)[]> {
    const failures = new Map<number, ItemFailure>();
    const resolvedUsers = await this.resolveUsers(batch, failures);
    // An external id left unresolved belongs to a tenant deleted meanwhile: that write fails alone.
    batch.forEach((write, writeIndex) => {
      const unresolved = write.events.some((event) => 'externalId' in event.user && !resolvedUsers.has(UserDirectory.key(write.tenantId, event.user.externalId)));
      if (unresolved && !failures.has(writeIndex)) failures.set(writeIndex, new ItemFailure(new UnknownUserError()));
    });
    const rows = new Rows();
    const results = batch.map((write, writeIndex) =>
      failures.has(writeIndex) ? [] : write.events.map((event) => {
        const userId = 'id' in event.user ? event.user.id : (resolvedUsers.get(UserDirectory.key(write.tenantId, event.user.externalId)) as string);
        return rows.add(writeIndex, write.tenantId, userId, event);
      }),
    );
    const sql = this.sql;
    // A write with any event whose user is gone (its foreign key would fail the whole statement)
    // is left out entirely, so it fails alone and a request stays all-or-nothing.
    const answer = await sql<{ id: string | null; failed_write: number | null }[]>`
      with t as materialized (
        select * from unnest(
          ${sql.array(rows.ids, pgArrayType.uuid)}, ${sql.array(rows.tenantIds, pgArrayType.uuid)},
          ${sql.array(rows.userIds, pgArrayType.uuid)}, ${sql.array(rows.types, pgArrayType.text)},
          ${sql.array(rows.occurredAts, pgArrayType.text)}::timestamptz[], ${sql.array(rows.values, pgArrayType.float8)},
          ${sql.array(rows.datas, pgArrayType.text)}, ${sql.array(rows.keys, pgArrayType.text)}, ${sql.array(rows.writes, pgArrayType.int8)})
          as t(id, tenant_id, user_id, type, occurred_at, value, data, idempotency_key, write)
      ), failed as (
        select distinct t.write from t
        where not exists (select 1 from users u where u.id = t.user_id and u.tenant_id = t.tenant_id)
      ), inserted as (
        insert into events (id, tenant_id, user_id, type, occurred_at, value, data, idempotency_key)
        select id, tenant_id, user_id, type, occurred_at, value, data::jsonb, idempotency_key
        from t where t.write not in (select write from failed)
        on conflict (tenant_id, idempotency_key) do nothing
        returning id, tenant_id, user_id, type, occurred_at, value, data
      ), relayed as (
        insert into outbox (event_id, tenant_id, user_id, type, occurred_at, value, feed)
        select id, tenant_id, user_id, type, occurred_at, value, pulse_feed_refs(data) from inserted
      )
      select id, null::int as failed_write from inserted
      union all select null, write::int from failed`;
    for (const row of answer) if (row.failed_write !== null) failures.set(row.failed_write, new ItemFailure(new UnknownUserError()));
    const inserted = new Set(answer.flatMap((row) => (row.id === null ? [] : [row.id])));
    await rows.resolveExistingDuplicates(sql, inserted, failures);
    return results.map((accepted, writeIndex) => {
      const failure = failures.get(writeIndex);
      return failure ?? accepted.map((ref) => ref.result());
    });
  }

  /**
   * Internal ids for the batch's external user ids, in one statement for all tenants. If that
   * fails (say, one tenant was deleted meanwhile, so its new users cannot be created), each
   * tenant is resolved on its own and only the writes of a tenant that fails again are sent
   * back, to be committed alone: one tenant's failure does not fail or bisect the others'.
   */
  private async resolveUsers(batch: Write[], failures: Map<number, ItemFailure>): Promise<Map<string, string>> {
    const pairsOf = (writes: Write[]) =>
      writes.flatMap((write) =>
        write.events.flatMap((event) => ('externalId' in event.user ? [{ tenantId: write.tenantId, externalId: event.user.externalId }] : [])),
      );
    try {
      return await this.users.resolveIds(this.sql, pairsOf(batch));
    } catch (error) {
      const tenants = [...new Set(pairsOf(batch).map((pair) => pair.tenantId))];
      if (tenants.length < 2) throw error;
      const resolved = new Map<string, string>();
      await Promise.all(
        tenants.map(async (tenantId) => {
          try {
            for (const [key, id] of await this.users.resolveIds(this.sql, pairsOf(batch.filter((write) => write.tenantId === tenantId)))) resolved.set(key, id);
          } catch (tenantError) {
            batch.forEach((write, index) => {
              if (write.tenantId === tenantId) failures.set(index, new ItemFailure(tenantError, true));
            });
          }
        }),
      );
      return resolved;
    }
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
  /** Which write of the batch each row belongs to. */
  readonly writes: number[] = [];
  /** First ref per (tenant, key) in this batch, and every later ref sharing it. */
  private readonly byKey = new Map<string, { first: EventRef; index: number; followers: { ref: EventRef; write: number }[] }>();

  add(write: number, tenantId: string, userId: string, event: PreparedEvent): EventRef {
    const key = event.idempotencyKey;
    if (key !== null) {
      const existing = this.byKey.get(`${tenantId}\u0000${key}`);
      if (existing) {
        const follower = new EventRef('', key, true);
        existing.followers.push({ ref: follower, write });
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
    this.occurredAts.push(event.occurredAt);
    this.values.push(event.value);
    this.datas.push(event.data);
    this.keys.push(key);
    this.writes.push(write);
    if (key !== null) this.byKey.set(`${tenantId}\u0000${key}`, { first: ref, index, followers: [] });
    return ref;
  }

  /**
   * Keys that lost to an event committed earlier take that event's id, flagged duplicate. A key
   * with no committed event to take (its first event's write failed) sends the other writes
   * that share it back to be committed again alone, not the batch: the others are committed.
   */
  async resolveExistingDuplicates(sql: Sql, inserted: Set<string>, failures: Map<number, ItemFailure>): Promise<void> {
    const lost = [...this.byKey.values()].filter((entry) => !inserted.has(this.ids[entry.index] as string));
    if (lost.length > 0) {
      const existing = await idsByTenantKey(
        sql,
        'events',
        lost.map((entry) => ({ tenantId: this.tenantIds[entry.index] as string, key: this.keys[entry.index] as string })),
      );
      for (const entry of lost) {
        const id = existing.get(tenantKey(this.tenantIds[entry.index] as string, entry.first.idempotencyKey as string));
        if (id) {
          entry.first.settle(id, true);
          continue;
        }
        // Its first write failed (an unknown user) and nothing committed holds the key.
        for (const write of [this.writes[entry.index] as number, ...entry.followers.map((follower) => follower.write)]) {
          if (!failures.has(write)) failures.set(write, new ItemFailure(new Error('idempotency conflict without a committed event'), true));
        }
      }
    }
    for (const entry of this.byKey.values()) {
      const { id } = entry.first.result();
      for (const follower of entry.followers) follower.ref.settle(id, true);
    }
  }
}
