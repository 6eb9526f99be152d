import { sql as drizzleSql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { DEFAULT_ENGINE_RULES, engineRulesSchema, type EngineRules } from '../contracts/api/rules.js';
import type { Database, Sql } from './db/client.js';
import type { SqlPick } from './db/rows.js';
import { tenantRules } from './db/schema.js';
import { recordAudit } from './audit.js';

export interface StoredRules {
  rules: EngineRules;
  /** 0 while the tenant runs on the defaults without a stored row. */
  version: number;
  updatedAt: Date | null;
}

export async function loadRules(sql: Sql, tenantId: string): Promise<StoredRules> {
  const [row] = await sql<(SqlPick<typeof tenantRules, 'version' | 'updated_at'> & { rules: unknown })[]>`
    select rules, version, updated_at from tenant_rules where tenant_id = ${tenantId}`;
  if (!row) return { rules: DEFAULT_ENGINE_RULES, version: 0, updatedAt: null };
  // Parsed on the way out too: defaults added by a later release fill what an old row lacks.
  return { rules: engineRulesSchema.parse(row.rules), version: row.version, updatedAt: new Date(row.updated_at) };
}

/** Replaces a tenant's rules (already validated) and audits the change; returns the new version. */
export async function saveRules(db: Database, tenantId: string, rules: EngineRules, actor: string): Promise<StoredRules> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(tenantRules)
      .values({ tenantId, rules })
      .onConflictDoUpdate({ target: tenantRules.tenantId, set: { rules, version: drizzleSql`${tenantRules.version} + 1`, updatedAt: new Date() } })
      .returning();
    if (!row) throw new Error('rules upsert returned no row');
    await recordAudit(tx, { tenantId, actor, action: 'rules.updated', target: `tenant:${tenantId}`, details: { version: row.version } });
    return { rules, version: row.version, updatedAt: row.updatedAt };
  });
}

/**
 * Rules as the engine sees them, cached per tenant for a few seconds: every event needs them,
 * and an admin's change taking effect within that time is fine.
 */
export class RulesCache {
  private readonly cache: LRUCache<string, StoredRules>;

  constructor(
    private readonly sql: Sql,
    ttlMs = 5_000,
  ) {
    this.cache = new LRUCache({ max: 10_000, ttl: ttlMs, fetchMethod: (tenantId) => loadRules(this.sql, tenantId) });
  }

  async get(tenantId: string): Promise<StoredRules> {
    const stored = await this.cache.fetch(tenantId);
    if (!stored) throw new Error(`rules for tenant ${tenantId} could not be loaded`);
    return stored;
  }
}
