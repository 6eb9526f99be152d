import { and, eq, sql as drizzleSql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { pgArrayType, type Database, type Sql } from '../db/client.js';
import { users, type UserRole } from '../db/schema.js';

export interface UserProfile {
  id: string;
  tenantId: string;
  externalId: string;
  displayName: string | null;
  timezone: string;
  role: UserRole;
}

const profileColumns = {
  id: users.id,
  tenantId: users.tenantId,
  externalId: users.externalId,
  displayName: users.displayName,
  timezone: users.timezone,
  role: users.role,
};

const cacheKey = (tenantId: string, externalId: string) => `${tenantId}\u0000${externalId}`;

/** Tenant users, keyed by the tenant's own id for them (`externalId`). */
export class UserDirectory {
  /** (tenant, externalId) → internal id never changes once assigned, so it is cached without expiry. */
  private readonly ids = new LRUCache<string, string>({ max: 200_000 });

  constructor(private readonly db: Database) {}

  /** Creates the user or updates the given profile fields; omitted fields keep their value. */
  async upsertProfile(
    tenantId: string,
    externalId: string,
    fields: { displayName?: string; timezone?: string; role?: UserRole },
  ): Promise<UserProfile> {
    const given = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
    const [row] = await this.db
      .insert(users)
      .values({ tenantId, externalId, ...given })
      .onConflictDoUpdate({ target: [users.tenantId, users.externalId], set: { ...given, updatedAt: drizzleSql`now()` } })
      .returning(profileColumns);
    if (!row) throw new Error('user upsert returned no row');
    this.ids.set(cacheKey(tenantId, externalId), row.id);
    return row;
  }

  async findById(tenantId: string, userId: string): Promise<UserProfile | undefined> {
    const [row] = await this.db
      .select(profileColumns)
      .from(users)
      .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)));
    return row;
  }

  /** Internal ids for (tenant, externalId) pairs, creating (and committing) users that do not exist yet. */
  async resolveIds(sql: Sql, pairs: { tenantId: string; externalId: string }[]): Promise<Map<string, string>> {
    const resolved = new Map<string, string>();
    const missing = new Map<string, { tenantId: string; externalId: string }>();
    for (const pair of pairs) {
      const key = cacheKey(pair.tenantId, pair.externalId);
      const cached = this.ids.get(key);
      if (cached) resolved.set(key, cached);
      else missing.set(key, pair);
    }
    if (missing.size === 0) return resolved;
    const tenantIds = [...missing.values()].map((pair) => pair.tenantId);
    const externalIds = [...missing.values()].map((pair) => pair.externalId);
    await sql`
      insert into users (tenant_id, external_id)
      select * from unnest(${sql.array(tenantIds, pgArrayType.uuid)}, ${sql.array(externalIds, pgArrayType.text)})
      on conflict (tenant_id, external_id) do nothing`;
    const rows = await sql<{ id: string; tenant_id: string; external_id: string }[]>`
      select u.id, u.tenant_id, u.external_id from users u
      join unnest(${sql.array(tenantIds, pgArrayType.uuid)}, ${sql.array(externalIds, pgArrayType.text)}) as wanted(tenant_id, external_id)
        on u.tenant_id = wanted.tenant_id and u.external_id = wanted.external_id`;
    for (const row of rows) {
      const key = cacheKey(row.tenant_id, row.external_id);
      this.ids.set(key, row.id);
      resolved.set(key, row.id);
    }
    return resolved;
  }

  static key = cacheKey;
}
