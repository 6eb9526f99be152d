import { readFile } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { eq } from 'drizzle-orm';
import type { Config } from '../platform/config.js';
import type { Database } from '../repositories/db/client.js';
import { tenants } from '../repositories/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { ApiKeyVerifier, createTenant } from '../repositories/tenants.js';

export const DEMO_TENANT_NAME = 'demo';

export interface DemoCredentials {
  tenantId: string;
  apiKey: string;
  baseUrl: string;
}

/**
 * Zero-config mode's first-minute experience: a `demo` tenant with a working API key, written to
 * DATA_DIR/demo-credentials.json (mode 600). Kept across restarts; PULSE_DEMO_API_KEY fixes the key.
 */
export async function ensureDemoTenant(db: Database, config: Config, baseUrl: string, logger: Logger): Promise<DemoCredentials> {
  const file = path.join(config.DATA_DIR, 'demo-credentials.json');
  const saved = JSON.parse(await readFile(file, 'utf8').catch(() => 'null')) as DemoCredentials | null;
  const wanted = config.PULSE_DEMO_API_KEY ?? saved?.apiKey;
  const verifier = new ApiKeyVerifier(db);
  const valid = wanted ? await verifier.verify(wanted) : undefined;

  let credentials: DemoCredentials;
  if (valid && wanted) {
    credentials = { tenantId: valid.tenantId, apiKey: wanted, baseUrl };
  } else {
    const existing = await db.query.tenants.findFirst({ where: eq(tenants.name, DEMO_TENANT_NAME) });
    if (existing) {
      logger.warn('the demo tenant exists but its saved key does not work: creating a new demo tenant', { previous: existing.id });
    }
    const created = await createTenant(db, { name: DEMO_TENANT_NAME, actor: 'system', fixedApiKey: config.PULSE_DEMO_API_KEY });
    credentials = { tenantId: created.tenantId, apiKey: created.apiKey, baseUrl };
  }
  // Rewritten on every start: atomically, so a script (or a test) reading it meanwhile never sees it half written.
  await writeFileAtomic(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  logger.info('demo tenant ready', { ...credentials, credentialsFile: file });
  return credentials;
}
