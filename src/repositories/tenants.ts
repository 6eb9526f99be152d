import { and, eq, isNull } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { hashSecret, issueCredential, parseCredential, secretMatches, type IssuedCredential } from '../platform/credentials.js';
import type { Database } from './db/client.js';
import { DEFAULT_ENGINE_RULES } from '../contracts/api/rules.js';
import { apiKeys, tenantRules, tenants } from './db/schema.js';
import { recordAudit } from './audit.js';

export interface CreatedTenant {
  tenantId: string;
  name: string;
  apiKeyId: string;
  /** Shown once: only its hash is stored. */
  apiKey: string;
}

/** Creates a tenant with its first API key and the default engine rules; `fixedApiKey` (a well-formed key) replaces the generated one. */
export async function createTenant(
  db: Database,
  options: { name: string; actor: string; fixedApiKey?: string },
): Promise<CreatedTenant> {
  const credential = options.fixedApiKey ? fromFixedKey(options.fixedApiKey) : issueCredential('apiKey');
  return db.transaction(async (tx) => {
    const [tenant] = await tx.insert(tenants).values({ name: options.name }).returning();
    if (!tenant) throw new Error('tenant insert returned no row');
    await tx.insert(apiKeys).values({ id: credential.id, tenantId: tenant.id, name: 'default', secretHash: credential.secretHash });
    // Seeded so the engine works at once and an admin sees (and edits) concrete rules.
    await tx.insert(tenantRules).values({ tenantId: tenant.id, rules: DEFAULT_ENGINE_RULES });
    await recordAudit(tx, [
      { tenantId: tenant.id, actor: options.actor, action: 'tenant.created', target: `tenant:${tenant.id}`, details: { name: options.name } },
      { tenantId: tenant.id, actor: options.actor, action: 'api_key.created', target: `api_key:${credential.id}` },
    ]);
    return { tenantId: tenant.id, name: tenant.name, apiKeyId: credential.id, apiKey: credential.token };
  });
}

function fromFixedKey(token: string): IssuedCredential {
  const parsed = parseCredential('apiKey', token);
  if (!parsed) throw new Error('not a well-formed API key');
  return { id: parsed.id, token, secretHash: hashSecret(parsed.secret) };
}

export interface ApiKeyPrincipal {
  apiKeyId: string;
  tenantId: string;
}

/**
 * Verifies API keys against their stored hashes. Verified keys are cached briefly because every
 * ingest request presents one; a revoked key stops working within the cache TTL.
 */
export class ApiKeyVerifier {
  private readonly cache = new LRUCache<string, ApiKeyPrincipal>({ max: 10_000, ttl: 30_000 });

  constructor(private readonly db: Database) {}

  async verify(token: string): Promise<ApiKeyPrincipal | undefined> {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const parsed = parseCredential('apiKey', token);
    if (!parsed) return undefined;
    const row = await this.db.query.apiKeys.findFirst({
      where: and(eq(apiKeys.id, parsed.id), isNull(apiKeys.revokedAt)),
      columns: { id: true, tenantId: true, secretHash: true },
    });
    if (!row || !secretMatches(parsed.secret, row.secretHash)) return undefined;
    const principal = { apiKeyId: row.id, tenantId: row.tenantId };
    this.cache.set(token, principal);
    return principal;
  }
}
