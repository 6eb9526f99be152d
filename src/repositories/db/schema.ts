import { sql } from 'drizzle-orm';
import { bigint, boolean, check, date, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { FusedSignalInput, FusionMethod } from '../../contracts/api/signals.js';
import type { EngineRules, RewardSpec } from '../../contracts/api/rules.js';
import { userRoles, type UserRole } from '../../contracts/roles.js';
import { connectionProviders, connectionStatuses, credentialKinds, syncStates, type ConnectionMapping, type ConnectionSettings, type SyncRunFigures } from '../../contracts/api/connections.js';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

/** Every tenant-owned row dies with its tenant. */
const tenantId = () =>
  uuid('tenant_id')
    .notNull()
    .references(() => tenants.id, { onDelete: 'cascade' });

export { userRoles, type UserRole };

/** A tenant's end user; `externalId` is the id the tenant's own app uses for them. */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    externalId: text('external_id').notNull(),
    displayName: text('display_name'),
    timezone: text('timezone').notNull().default('UTC'),
    /** The zone held before the last change and when it changed: a change is taken at most once per 24 h. */
    previousTimezone: text('previous_timezone'),
    timezoneChangedAt: timestamp('timezone_changed_at', { withTimezone: true }),
    /** Latest event the engine applied: the mission sweep serves recently active users. */
    lastActiveAt: timestamp('last_active_at', { withTimezone: true }),
    role: text('role', { enum: userRoles }).notNull().default('member'),
    /** Seq of the user's latest update: bumped in the transaction that writes updates, so seqs have no gaps. */
    lastUpdateSeq: bigint('last_update_seq', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('users_tenant_external_id_key').on(table.tenantId, table.externalId),
    index('users_tenant_created_at_idx').on(table.tenantId, table.createdAt),
    index('users_last_active_at_idx').on(table.lastActiveAt),
  ],
);

const userId = () =>
  uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' });

/**
 * The tenant of a row that also names its user: the user's foreign key already removes the row
 * with its tenant. No foreign key of its own, because checking one takes a share lock on the
 * tenant's single row for every insert, and concurrent inserts of one tenant then pile up
 * multixacts on that row (in the engine benchmark, the statements that insert events, markers and
 * updates spent a third less time without these checks).
 */
const userTenantId = () => uuid('tenant_id').notNull();

/** API keys authenticate a tenant's backend. Only a SHA-256 of the secret is stored: keys are 256-bit random, so a slow hash adds nothing. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    name: text('name').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (table) => [index('api_keys_tenant_idx').on(table.tenantId)],
);

/** Refresh tokens rotate within a family; presenting a rotated one revokes the family (token theft). */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    familyId: uuid('family_id').notNull(),
    tenantId: userTenantId(),
    userId: userId(),
    secretHash: text('secret_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (table) => [index('refresh_tokens_family_idx').on(table.familyId)],
);

/**
 * Ingested engagement events. Ids are UUIDv7 minted by the hub: time-ordered, so inserts append
 * to the primary-key index and the id doubles as the pagination cursor.
 */
export const events = pgTable(
  'events',
  {
    id: uuid('id').primaryKey(),
    tenantId: userTenantId(),
    userId: userId(),
    type: text('type').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    value: doublePrecision('value'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    idempotencyKey: text('idempotency_key'),
  },
  (table) => [
    // NULL keys are distinct, so only events that carry a key are deduplicated.
    uniqueIndex('events_tenant_idempotency_key').on(table.tenantId, table.idempotencyKey),
    index('events_tenant_id_idx').on(table.tenantId, table.id),
    index('events_tenant_user_id_idx').on(table.tenantId, table.userId, table.id),
  ],
);

/**
 * Transactional outbox: written with each new event, drained to the `engagement` queue by the relay.
 * It carries what the engine reads of the event, so the engine never looks the event up again.
 */
/**
 * Accepted events not yet applied. The relay stamps `relayed_at` when it hands a row to the
 * queue; the engine deletes the row in the transaction that writes the event's processed marker.
 * A row relayed long ago and still here lost its job (Redis lost its data): the reconciler
 * hands it over again.
 */
export const outboxKinds = ['event', 'signal'] as const;
export type OutboxKind = (typeof outboxKinds)[number];

export const outbox = pgTable(
  'outbox',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** The event's id, or the signal reading's. */
    eventId: uuid('event_id').notNull(),
    /** `event`: applied by the engine; `signal`: a reading that marks its signal for fusion (`type` is the signal's key). */
    kind: text('kind', { enum: outboxKinds }).notNull().default('event'),
    tenantId: uuid('tenant_id').notNull(),
    /** Null only for a reading of a tenant-wide signal. */
    userId: uuid('user_id'),
    type: text('type').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    value: doublePrecision('value'),
    /** What feeds read of an event's data (`itemId`, `topics`), extracted on insert by pulse_feed_refs(data); null when it has neither. */
    feed: jsonb('feed').$type<{ itemId?: string; topics?: string[] }>(),
    createdAt: createdAt(),
    relayedAt: timestamp('relayed_at', { withTimezone: true }),
  },
  (table) => [
    index('outbox_event_id_idx').on(table.eventId),
    index('outbox_unrelayed_idx').on(table.id).where(sql`${table.relayedAt} is null`),
    index('outbox_relayed_at_idx').on(table.relayedAt).where(sql`${table.relayedAt} is not null`),
    // A fusion deletes its signal's rows: found by key without reading the events' rows.
    index('outbox_signal_idx').on(table.tenantId, table.type).where(sql`${table.kind} = 'signal'`),
  ],
);

/**
 * Stored user updates (seq `from_seq`..`to_seq` of a user) not yet handed to the hubs: written in
 * the transaction that stores them, deleted once the `realtime` job is queued. A row left behind
 * (a worker died between the two) is pushed again by the reconciler; clients drop seqs they have.
 */
export const pendingPushes = pgTable(
  'pending_pushes',
  {
    userId: uuid('user_id').notNull(),
    toSeq: bigint('to_seq', { mode: 'number' }).notNull(),
    fromSeq: bigint('from_seq', { mode: 'number' }).notNull(),
    tenantId: uuid('tenant_id').notNull(),
    createdAt: createdAt(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.toSeq] }), index('pending_pushes_created_at_idx').on(table.createdAt)],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    tenantId: uuid('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    /** Who acted: `cli`, `system`, `api_key:<id>` or `user:<id>`. */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    target: text('target'),
    details: jsonb('details').$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (table) => [index('audit_log_tenant_created_idx').on(table.tenantId, table.createdAt)],
);

/**
 * Every change pushed to a user, in `seq` order: the durable truth behind live delivery and `sync`.
 * A log kept for USER_UPDATES_RETENTION_DAYS, and written only by the statement that bumps the
 * user's seq under its row lock, so it holds no foreign keys: checking one cost ~30 µs per row,
 * a third of that statement, and a deleted user's updates go with the retention prune.
 */
export const userUpdates = pgTable(
  'user_updates',
  {
    userId: uuid('user_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    tenantId: userTenantId(),
    type: text('type').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.seq] }),
    // Only the retention prune reads by age, and rows arrive in time order: a BRIN index serves it
    // at a fraction of a btree's size, and most inserts leave it untouched (a btree took an entry per row).
    index('user_updates_created_at_brin').using('brin', table.createdAt),
  ],
);

/**
 * Events whose effects were applied: a redelivered job finds its marker and does nothing. The
 * marker is inserted from the event row it names, so it needs no foreign key, whose check would
 * lock (and so rewrite) that event row once more.
 */
export const processedEvents = pgTable('processed_events', {
  eventId: uuid('event_id').primaryKey(),
  processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A tenant's engine rules; no row means the defaults. `version` grows with each change. */
export const tenantRules = pgTable('tenant_rules', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  rules: jsonb('rules').$type<EngineRules>().notNull(),
  version: integer('version').notNull().default(1),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A local calendar day, read and written as 'YYYY-MM-DD' text. Generic in the name so row types see the literal column name. */
const localDate = <TName extends string>(name: TName) => date(name, { mode: 'string' });

/** Per user and streak: the folded state plus what the time-zone guard needs to credit the next day. */
export const streaks = pgTable(
  'streaks',
  {
    userId: userId(),
    streakKey: text('streak_key').notNull(),
    tenantId: userTenantId(),
    current: integer('current').notNull(),
    longest: integer('longest').notNull(),
    freezes: integer('freezes').notNull(),
    lastDay: localDate('last_day').notNull(),
    runStart: localDate('run_start').notNull(),
    lastEventAt: timestamp('last_event_at', { withTimezone: true }).notNull(),
    anchorDay: localDate('anchor_day').notNull(),
    anchorStart: timestamp('anchor_start', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.streakKey] })],
);

/** Every credited day of a streak: a late event for an earlier day refolds the streak from these. */
export const streakDays = pgTable(
  'streak_days',
  {
    userId: userId(),
    streakKey: text('streak_key').notNull(),
    day: localDate('day').notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.streakKey, table.day] })],
);

export const personalRecords = pgTable(
  'personal_records',
  {
    userId: userId(),
    metricKey: text('metric_key').notNull(),
    tenantId: userTenantId(),
    best: doublePrecision('best').notNull(),
    day: localDate('day').notNull(),
    eventId: uuid('event_id').notNull(),
    achievedAt: timestamp('achieved_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.metricKey] })],
);

/** Daily count or sum per metric and local day, for the daily records. */
export const recordDays = pgTable(
  'record_days',
  {
    userId: userId(),
    metricKey: text('metric_key').notNull(),
    day: localDate('day').notNull(),
    value: doublePrecision('value').notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.metricKey, table.day] })],
);

/** A daily mission: unique per user, local day and slot, so assigning twice is harmless. */
export const userMissions = pgTable(
  'user_missions',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: userTenantId(),
    userId: userId(),
    day: localDate('day').notNull(),
    slot: integer('slot').notNull(),
    templateKey: text('template_key').notNull(),
    eventType: text('event_type').notNull(),
    target: integer('target').notNull(),
    progress: integer('progress').notNull().default(0),
    reward: jsonb('reward').$type<RewardSpec>().notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (table) => [uniqueIndex('user_missions_user_day_slot_key').on(table.userId, table.day, table.slot)],
);

export const rewardKinds = ['points', 'box', 'badge'] as const;
export type RewardKind = (typeof rewardKinds)[number];

/** The rewards ledger. One grant per (tenant, user, source, source key): a retried grant is a no-op. Balances derive from it. */
export const rewards = pgTable(
  'rewards',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: userTenantId(),
    userId: userId(),
    source: text('source').notNull(),
    sourceKey: text('source_key').notNull(),
    kind: text('kind', { enum: rewardKinds }).notNull(),
    points: integer('points').notNull().default(0),
    badge: text('badge'),
    boxId: uuid('box_id'),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex('rewards_grant_key').on(table.tenantId, table.userId, table.source, table.sourceKey),
    index('rewards_user_created_idx').on(table.userId, table.createdAt),
  ],
);

/** A mystery box, granted closed; opening stores the roll with every input needed to re-verify it. */
export const boxes = pgTable(
  'boxes',
  {
    id: uuid('id').primaryKey(),
    tenantId: userTenantId(),
    userId: userId(),
    tableKey: text('table_key').notNull(),
    grantedAt: timestamp('granted_at', { withTimezone: true }).notNull().defaultNow(),
    openedAt: timestamp('opened_at', { withTimezone: true }),
    rarity: text('rarity'),
    roll: jsonb('roll').$type<Record<string, unknown>>(),
  },
  (table) => [index('boxes_user_idx').on(table.userId, table.grantedAt)],
);

export interface CampaignTier {
  points: number;
  reward: RewardSpec;
}

export const campaigns = pgTable(
  'campaigns',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    key: text('key').notNull(),
    name: text('name').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    pointRules: jsonb('point_rules').$type<Record<string, number>>().notNull(),
    tiers: jsonb('tiers').$type<CampaignTier[]>().notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('campaigns_tenant_key').on(table.tenantId, table.key)],
);

export const campaignProgress = pgTable(
  'campaign_progress',
  {
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    userId: userId(),
    tenantId: userTenantId(),
    points: integer('points').notNull().default(0),
    tier: integer('tier').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.campaignId, table.userId] }), index('campaign_progress_rank_idx').on(table.campaignId, table.points)],
);

/**
 * Signal readings as accepted: the inputs of fusion. A source's newest reading of a signal is
 * the one that counts; older ones stay for the retention (`SIGNAL_HISTORY_RETENTION_DAYS`).
 */
export const signalReadings = pgTable(
  'signal_readings',
  {
    /** UUIDv7 minted by the hub, as for events. */
    id: uuid('id').primaryKey(),
    tenantId: tenantId(),
    /** Null for a tenant-wide signal. */
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    source: text('source').notNull(),
    value: doublePrecision('value').notNull(),
    sigma: doublePrecision('sigma'),
    unit: text('unit'),
    observedAt: timestamp('observed_at', { withTimezone: true }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    idempotencyKey: text('idempotency_key'),
  },
  (table) => [
    uniqueIndex('signal_readings_tenant_idempotency_key').on(table.tenantId, table.idempotencyKey),
    // The newest reading of each source of one signal: one index range per source.
    index('signal_readings_latest_idx').on(table.tenantId, table.key, table.userId, table.source, table.observedAt),
    index('signal_readings_received_at_idx').on(table.receivedAt),
  ],
);

/** The latest fused value of each signal, with its provenance. */
export const fusedSignals = pgTable(
  'fused_signals',
  {
    tenantId: tenantId(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: doublePrecision('value').notNull(),
    sigma: doublePrecision('sigma').notNull(),
    lo: doublePrecision('lo').notNull(),
    hi: doublePrecision('hi').notNull(),
    unit: text('unit'),
    method: text('method').$type<FusionMethod>().notNull(),
    inputs: jsonb('inputs').$type<FusedSignalInput[]>().notNull(),
    computedAt: timestamp('computed_at', { withTimezone: true }).notNull(),
  },
  // One row per signal, tenant-wide ones (null user) included.
  (table) => [unique('fused_signals_scope').on(table.tenantId, table.key, table.userId).nullsNotDistinct()],
);

/** Every fused value, for charts; pruned after the retention. */
export const fusedSignalHistory = pgTable(
  'fused_signal_history',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    tenantId: tenantId(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: doublePrecision('value').notNull(),
    lo: doublePrecision('lo').notNull(),
    hi: doublePrecision('hi').notNull(),
    computedAt: timestamp('computed_at', { withTimezone: true }).notNull(),
  },
  (table) => [
    index('fused_signal_history_scope_idx').on(table.tenantId, table.key, table.userId, table.computedAt),
    index('fused_signal_history_computed_at_idx').on(table.computedAt),
  ],
);

const oneOf = (values: readonly string[]) => sql.raw(values.map((value) => `'${value}'`).join(', '));

/** A tenant's link to a provider account (integration syncs). Its secrets live in connection_credentials, sealed. */
export const connections = pgTable(
  'connections',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    provider: text('provider', { enum: connectionProviders }).notNull(),
    name: text('name').notNull(),
    settings: jsonb('settings').$type<ConnectionSettings>().notNull(),
    /** Minutes between scheduled syncs; null: manual only. */
    scheduleMinutes: integer('schedule_minutes'),
    mapping: jsonb('mapping').$type<ConnectionMapping>().notNull(),
    status: text('status', { enum: connectionStatuses }).notNull().default('needs_reauth'),
    /** The sync engine's checkpoint per stream, saved with each page. */
    cursor: jsonb('cursor').$type<Record<string, unknown>>().notNull().default({}),
    recordsSynced: bigint('records_synced', { mode: 'number' }).notNull().default(0),
    eventsCreated: bigint('events_created', { mode: 'number' }).notNull().default(0),
    unmatchedRecords: bigint('unmatched_records', { mode: 'number' }).notNull().default(0),
    lastSyncStartedAt: timestamp('last_sync_started_at', { withTimezone: true }),
    lastSyncFinishedAt: timestamp('last_sync_finished_at', { withTimezone: true }),
    lastError: text('last_error'),
    lastErrorAt: timestamp('last_error_at', { withTimezone: true }),
    /** Token refreshes that failed in a row (reset by a successful one); at the configured limit the connection needs re-authorization. */
    refreshFailures: integer('refresh_failures').notNull().default(0),
    /** No token refresh is tried before this (2^failures seconds after the last failure). */
    refreshNotBefore: timestamp('refresh_not_before', { withTimezone: true }),
    syncState: text('sync_state', { enum: syncStates }).notNull().default('idle'),
    /** The BullMQ job running the connection's sync (its lease): one sync of a connection at a time. */
    syncJobId: text('sync_job_id'),
    /** Renewed by the running sync after each page; a lease not renewed within the lease time may be taken over. */
    syncHeartbeatAt: timestamp('sync_heartbeat_at', { withTimezone: true }),
    /** The provider throttled this account: no call before this instant. */
    rateLimitedUntil: timestamp('rate_limited_until', { withTimezone: true }),
    /** The last finished (or current) run's figures: pages, records, events, unmatched, durationMs. */
    lastRun: jsonb('last_run').$type<SyncRunFigures>(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('connections_tenant_name_key').on(table.tenantId, table.name),
    index('connections_tenant_page_idx').on(table.tenantId, table.createdAt, table.id),
    check('connections_provider_check', sql`${table.provider} in (${oneOf(connectionProviders)})`),
    check('connections_status_check', sql`${table.status} in (${oneOf(connectionStatuses)})`),
    check('connections_sync_state_check', sql`${table.syncState} in (${oneOf(syncStates)})`),
  ],
);

/**
 * What the sync engine last stored of each remote record (an order, a charge, a receipt): its
 * version, the kind it had then, and the user it was matched to (null: unmatched, listed by the
 * API). An event is created when a record first appears or changes kind (pending → paid).
 */
export const syncedRecords = pgTable(
  'synced_records',
  {
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    remoteId: text('remote_id').notNull(),
    version: text('version').notNull(),
    kind: text('kind').notNull(),
    /** The value of the mapping's user field on the record (e.g. the customer's email), if any. */
    userKey: text('user_key'),
    userId: uuid('user_id'),
    /** The latest event this record produced. */
    eventId: uuid('event_id'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    value: doublePrecision('value'),
    currency: text('currency'),
    firstSeenAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.connectionId, table.remoteId] }),
    index('synced_records_unmatched_idx').on(table.connectionId, table.updatedAt).where(sql`${table.userId} is null`),
  ],
);

/**
 * A connection's secrets, one row per kind, each an AES-256-GCM envelope (platform/credential-vault.ts)
 * bound to its connection and kind; `key_id` repeats the envelope's key so rotation finds what is left.
 */
export const connectionCredentials = pgTable(
  'connection_credentials',
  {
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: credentialKinds }).notNull(),
    keyId: text('key_id').notNull(),
    sealed: text('sealed').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.connectionId, table.kind] }),
    index('connection_credentials_key_id_idx').on(table.keyId),
    check('connection_credentials_kind_check', sql`${table.kind} in (${oneOf(credentialKinds)})`),
  ],
);

/** Pending OAuth authorizations: the state (stored as its SHA-256), single use, bound to one connection, expiring. */
export const oauthStates = pgTable(
  'oauth_states',
  {
    stateHash: text('state_hash').primaryKey(),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    provider: text('provider', { enum: connectionProviders }).notNull(),
    /** The PKCE verifier, sealed (null for providers without PKCE). */
    codeVerifier: text('code_verifier'),
    keyId: text('key_id'),
    redirectUri: text('redirect_uri').notNull(),
    /** Who started the authorization, for the audit entry of its completion. */
    actor: text('actor').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** Set when the callback presents it: a second presentation is refused as reused. */
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (table) => [index('oauth_states_expires_at_idx').on(table.expiresAt), index('oauth_states_connection_idx').on(table.connectionId)],
);

// Feeds (H)

/** A tenant's feed items (lessons, posts, offers), upserted by the tenant's own item id; counters kept by the engine across users. */
export const feedItems = pgTable(
  'feed_items',
  {
    tenantId: tenantId(),
    itemId: text('item_id').notNull(),
    kind: text('kind').notNull(),
    authorId: text('author_id'),
    topics: text('topics').array().notNull().default(sql`'{}'::text[]`),
    publishedAt: timestamp('published_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    title: text('title'),
    url: text('url'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    /** Distinct users who viewed, opened, liked, hid or shared it (each user counts once per action). */
    views: integer('views').notNull().default(0),
    opens: integer('opens').notNull().default(0),
    likes: integer('likes').notNull().default(0),
    hides: integer('hides').notNull().default(0),
    shares: integer('shares').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.tenantId, table.itemId] }), index('feed_items_recent_idx').on(table.tenantId, table.publishedAt)],
);

/** A user's decaying affinity to a topic or an author, from their interactions and events (`score` as of `updated_at`). */
export const feedAffinities = pgTable(
  'feed_affinities',
  {
    userId: userId(),
    tenantId: userTenantId(),
    dimension: text('dimension', { enum: ['topic', 'author'] }).notNull(),
    key: text('key').notNull(),
    score: doublePrecision('score').notNull(),
    /** Interactions counted (for explanations: "you completed 4 lessons on algebra"). */
    count: integer('count').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.dimension, table.key] }), index('feed_affinities_match_idx').on(table.tenantId, table.dimension, table.key)],
);

/** What a user did with an item, first time of each action. */
export const feedInteractions = pgTable(
  'feed_interactions',
  {
    userId: userId(),
    itemId: text('item_id').notNull(),
    viewedAt: timestamp('viewed_at', { withTimezone: true }),
    openedAt: timestamp('opened_at', { withTimezone: true }),
    likedAt: timestamp('liked_at', { withTimezone: true }),
    hiddenAt: timestamp('hidden_at', { withTimezone: true }),
    sharedAt: timestamp('shared_at', { withTimezone: true }),
  },
  (table) => [primaryKey({ columns: [table.userId, table.itemId] })],
);

/**
 * A user's computed feed, one row per position, by version: a reader paging with a cursor keeps
 * reading the version it started on while newer ones are computed (the last few are kept).
 */
export const feedEntries = pgTable(
  'feed_entries',
  {
    userId: userId(),
    version: integer('version').notNull(),
    position: integer('position').notNull(),
    itemId: text('item_id').notNull(),
    score: doublePrecision('score').notNull(),
    finalScore: doublePrecision('final_score').notNull(),
    diversityMultiplier: doublePrecision('diversity_multiplier').notNull(),
    /** Each component: name, raw value, weight, contribution; and the explanation shown as `why`. */
    components: jsonb('components').$type<{ name: string; raw: number; weight: number; contribution: number }[]>().notNull(),
    why: jsonb('why').$type<{ component: string; text: string; contribution: number }[]>().notNull(),
    formulaVersion: integer('formula_version').notNull(),
    computedAt: timestamp('computed_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.version, table.position] })],
);

/** Per user: the feed's current version, its top (to tell a material change), push bookkeeping and quiet-hour preferences. */
export const feedStates = pgTable('feed_states', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  tenantId: userTenantId(),
  version: integer('version').notNull().default(0),
  computedAt: timestamp('computed_at', { withTimezone: true }),
  /** Item ids at the top of the current version, in order. */
  top: text('top').array().notNull().default(sql`'{}'::text[]`),
  caughtUp: boolean('caught_up').notNull().default(false),
  /** The user's local day of `pushes_today`. */
  pushDay: date('push_day', { mode: 'string' }),
  pushesToday: integer('pushes_today').notNull().default(0),
  /** A `feed:updated` held back (quiet hours or the budget) goes out at this instant, coalesced. */
  heldUntil: timestamp('held_until', { withTimezone: true }),
  heldReason: text('held_reason', { enum: ['quiet_hours', 'budget'] }),
  /** The user's own quiet hours ('HH:MM'), overriding the tenant's; both null: the tenant's. */
  quietStart: text('quiet_start'),
  quietEnd: text('quiet_end'),
});
