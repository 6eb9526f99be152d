import { sql } from 'drizzle-orm';
import { bigint, doublePrecision, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

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

export const userRoles = ['member', 'admin'] as const;
export type UserRole = (typeof userRoles)[number];

/** A tenant's end user; `externalId` is the id the tenant's own app uses for them. */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    externalId: text('external_id').notNull(),
    displayName: text('display_name'),
    timezone: text('timezone').notNull().default('UTC'),
    role: text('role', { enum: userRoles }).notNull().default('member'),
    /** Seq of the user's latest update: bumped in the transaction that writes updates, so seqs have no gaps. */
    lastUpdateSeq: bigint('last_update_seq', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('users_tenant_external_id_key').on(table.tenantId, table.externalId),
    index('users_tenant_created_at_idx').on(table.tenantId, table.createdAt),
  ],
);

const userId = () =>
  uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' });

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
    tenantId: tenantId(),
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
    tenantId: tenantId(),
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

/** Transactional outbox: written with each new event, drained to the `engagement` queue by the relay. */
export const outbox = pgTable('outbox', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  eventId: uuid('event_id').notNull(),
  tenantId: uuid('tenant_id').notNull(),
  userId: uuid('user_id').notNull(),
  createdAt: createdAt(),
});

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

/** Every change pushed to a user, in `seq` order: the durable truth behind live delivery and `sync`. */
export const userUpdates = pgTable(
  'user_updates',
  {
    userId: userId(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    tenantId: tenantId(),
    type: text('type').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.seq] }), index('user_updates_created_at_idx').on(table.createdAt)],
);

/** Events whose effects were applied: a redelivered job finds its marker and does nothing. */
export const processedEvents = pgTable('processed_events', {
  eventId: uuid('event_id')
    .primaryKey()
    .references(() => events.id, { onDelete: 'cascade' }),
  processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
});
