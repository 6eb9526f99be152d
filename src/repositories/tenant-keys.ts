import { pgArrayType, type Sql } from './db/client.js';
import type { SqlPick } from './db/rows.js';
import type { users } from './db/schema.js';

/** A (tenant, key) pair as one map key: NUL cannot occur in either part. */
export const tenantKey = (tenantId: string, key: string): string => `${tenantId}\u0000${key}`;

/** The tenant-scoped tables looked up by a key unique within the tenant, and that key's column. */
const KEYED_TABLES = {
  users: 'external_id',
  events: 'idempotency_key',
  signal_readings: 'idempotency_key',
} as const;

/**
 * The ids of the rows holding these (tenant, key) pairs, by `tenantKey`; pairs no row holds are
 * absent. One statement whatever the number of pairs or tenants.
 */
export async function idsByTenantKey(sql: Sql, table: keyof typeof KEYED_TABLES, pairs: readonly { tenantId: string; key: string }[]): Promise<Map<string, string>> {
  if (pairs.length === 0) return new Map();
  const tenantIds = sql.array(pairs.map((pair) => pair.tenantId), pgArrayType.uuid);
  const keys = sql.array(pairs.map((pair) => pair.key), pgArrayType.text);
  const column = sql(KEYED_TABLES[table]);
  // Every keyed table has uuid `id` and `tenant_id` columns, typed here from `users`; `key` is the table's key column.
  const rows = await sql<(SqlPick<typeof users, 'id' | 'tenant_id'> & { key: string })[]>`
    select t.id, t.tenant_id, t.${column} as key from ${sql(table)} t
    join unnest(${tenantIds}, ${keys}) as wanted(tenant_id, key) on t.tenant_id = wanted.tenant_id and t.${column} = wanted.key
    -- Repeated as array conditions so even Postgres's generic plan of this prepared statement scans the index, not the table.
    where t.tenant_id = any(${tenantIds}) and t.${column} = any(${keys})`;
  return new Map(rows.map((row) => [tenantKey(row.tenant_id, row.key), row.id]));
}
