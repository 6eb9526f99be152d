import { and, eq, sql as drizzleSql, type SQL } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { pgArrayType, type Database, type Sql } from './db/client.js';
import { users, type UserRole } from './db/schema.js';
import { idsByTenantKey, tenantKey } from './tenant-keys.js';
import { adoptZone } from '../domain/time-zones.js';

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

const cacheKey = tenantKey;

/** Tenant users, keyed by the tenant's own id for them (`externalId`). */
export class UserDirectory {
  /** (tenant, externalId) → internal id never changes once assigned, so it is cached without expiry. */
  private readonly ids = new LRUCache<string, string>({ max: 200_000 });

  constructor(private readonly db: Database) {}

  /**
   * Creates the user or updates the given profile fields; omitted fields keep their value. A new
   * time zone for an existing user goes through the engine's guard: taken at most once per 24 h
   * (otherwise the current zone stays), remembering the previous one for earlier events.
   */
  async upsertProfile(
    tenantId: string,
    externalId: string,
    fields: { displayName?: string; timezone?: string; role?: UserRole },
  ): Promise<UserProfile> {
    const { timezone, ...others } = fields;
    const given = Object.fromEntries(Object.entries(others).filter(([, value]) => value !== undefined));
    const profile = await this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(users)
        .values({ tenantId, externalId, ...given, ...(timezone === undefined ? {} : { timezone }) })
        .onConflictDoUpdate({ target: [users.tenantId, users.externalId], set: { ...given, updatedAt: drizzleSql`now()` } })
        .returning({ ...profileColumns, previousTimezone: users.previousTimezone, timezoneChangedAt: users.timezoneChangedAt });
      if (!row) throw new Error('user upsert returned no row');
      const { previousTimezone, timezoneChangedAt, ...stored } = row;
      const adopted = adoptZone({ zone: stored.timezone, previousZone: previousTimezone, changedAt: timezoneChangedAt }, timezone, new Date());
      if (!adopted.changed) return stored;
      const { zone, previousZone, changedAt } = adopted.state;
      await tx.update(users).set({ timezone: zone, previousTimezone: previousZone, timezoneChangedAt: changedAt }).where(eq(users.id, stored.id));
      return { ...stored, timezone: zone };
    });
    this.ids.set(cacheKey(tenantId, externalId), profile.id);
    return profile;
  }

  findByExternalId(tenantId: string, externalId: string): Promise<UserProfile | undefined> {
    return this.findOne(tenantId, eq(users.externalId, externalId));
  }

  findById(tenantId: string, userId: string): Promise<UserProfile | undefined> {
    return this.findOne(tenantId, eq(users.id, userId));
  }

  private async findOne(tenantId: string, condition: SQL): Promise<UserProfile | undefined> {
    const [row] = await this.db.select(profileColumns).from(users).where(and(eq(users.tenantId, tenantId), condition));
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
    // A tenant deleted meanwhile gets no user (its pairs stay unresolved, for the caller to refuse)
    // rather than a foreign-key failure that would fail every pair of the statement.
    await sql`
      insert into users (tenant_id, external_id)
      select * from unnest(${sql.array(tenantIds, pgArrayType.uuid)}, ${sql.array(externalIds, pgArrayType.text)}) as wanted(tenant_id, external_id)
      where exists (select 1 from tenants t where t.id = wanted.tenant_id)
      on conflict (tenant_id, external_id) do nothing`;
    const found = await idsByTenantKey(sql, 'users', [...missing.values()].map((pair) => ({ tenantId: pair.tenantId, key: pair.externalId })));
    for (const [key, id] of found) {
      this.ids.set(key, id);
      resolved.set(key, id);
    }
    return resolved;
  }

  static key = cacheKey;
}
