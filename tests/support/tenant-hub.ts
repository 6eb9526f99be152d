import postgres from 'postgres';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { EngineRules } from '../../src/contracts/api/rules.js';
import { saveRules } from '../../src/repositories/engine-rules.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import type { TestSocket } from './socket-client.js';
import { useTestHub, type TestHub } from './test-env.js';

export interface TenantHub {
  hub: TestHub;
  tenant: CreatedTenant;
  /** A plain postgres.js client on the file's database, for assertions. */
  sql: postgres.Sql;
  /** Sockets to disconnect after each test. */
  sockets: TestSocket[];
}

export type TenantHubOptions = Parameters<typeof useTestHub>[0] & { rules?: EngineRules };

/**
 * useTestHub (with its `role` and `env`, when given) plus a tenant of the file's own (with
 * `rules`, when given), a client to look into the database, and sockets closed after each test.
 * Read its fields inside hooks and tests (they are set by then).
 */
export function useTenantHub(name: string, { rules, ...hubOptions }: TenantHubOptions = {}): TenantHub {
  const fixture = useTestHub(hubOptions);
  const tenantHub = { sockets: [] as TestSocket[] } as TenantHub;
  beforeAll(async () => {
    tenantHub.hub = fixture.hub;
    tenantHub.tenant = await createTenant(fixture.hub.context.database.db, { name, actor: 'test' });
    if (rules) await saveRules(fixture.hub.context.database.db, tenantHub.tenant.tenantId, rules, 'test');
    tenantHub.sql = postgres(fixture.database.url, { max: 2, onnotice: () => undefined });
  });
  afterEach(() => {
    for (const socket of tenantHub.sockets.splice(0)) socket.disconnect();
  });
  afterAll(async () => {
    await tenantHub.sql?.end();
  });
  return tenantHub;
}
