import { sql } from 'drizzle-orm';
import { pgTable, text, timestamp, uniqueIndex, uuid, index } from 'drizzle-orm/pg-core';

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const userRoles = ['member', 'admin'] as const;
export type UserRole = (typeof userRoles)[number];

/** A tenant's end user; `externalId` is the id the tenant's own app uses for them. */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    externalId: text('external_id').notNull(),
    displayName: text('display_name'),
    timezone: text('timezone').notNull().default('UTC'),
    role: text('role', { enum: userRoles }).notNull().default('member'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('users_tenant_external_id_key').on(table.tenantId, table.externalId),
    index('users_tenant_created_at_idx').on(table.tenantId, table.createdAt),
  ],
);
