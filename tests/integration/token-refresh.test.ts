import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionSchema } from '../../src/contracts/api/connections.js';
import { CredentialVault, generateKey } from '../../src/platform/credential-vault.js';
import { connectDatabase, type DatabaseHandle } from '../../src/repositories/db/client.js';
import type { CreatedTenant } from '../../src/repositories/tenants.js';
import { ConnectionService } from '../../src/services/integrations/connections.js';
import { TokenRefreshError } from '../../src/services/integrations/errors.js';
import { TokenRefreshService, type TokenRefreshOptions } from '../../src/services/integrations/token-refresh.js';
import { startProviderSimulator, type ProviderSimulator } from '../simulator/server.js';
import { useTenantHub } from '../support/tenant-hub.js';

const shop = '40000077';

describe('integration token refresh', () => {
  const fixture = useTenantHub('token-refresh');
  const vault = CredentialVault.fromKeyRing(`t:${generateKey()}`);
  let sim: ProviderSimulator;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  /** Two "worker processes": each its own pool and its own services. */
  const pools: DatabaseHandle[] = [];
  let workers: ConnectionService[];

  const refresher = (connections: ConnectionService, options: Partial<TokenRefreshOptions> = {}) =>
    new TokenRefreshService(connections, { marginSeconds: 300, maxFailures: 5, ...options });

  /** An active Etsy connection on the simulator with the given tokens, its access token expiring in `accessTtlSeconds`. */
  async function etsyConnection(name: string, tokens: { accessToken: string; refreshToken: string }, accessTtlSeconds: number): Promise<string> {
    const [service] = workers as [ConnectionService];
    const created = await service.create(
      tenant.tenantId,
      createConnectionSchema.parse({ provider: 'etsy', name, settings: { shopId: shop, baseUrls: { token: `${sim.baseUrls.etsy}/v3/public/oauth/token` } } }),
      'test',
    );
    await service.setCredentials(tenant.tenantId, created.id, { clientId: sim.credentials.etsy.keystring }, 'test');
    const row = await service.store.findById(created.id);
    await service.store.saveCredentials(
      row as NonNullable<typeof row>,
      [service.seal(created.id, 'access_token', tokens.accessToken, new Date(Date.now() + accessTtlSeconds * 1000)), service.seal(created.id, 'refresh_token', tokens.refreshToken, null)],
      () => 'active',
      { actor: 'test', action: 'connection.authorized' },
    );
    return created.id;
  }

  const stored = async (connectionId: string) => (await (workers[0] as ConnectionService).openCredentials(connectionId, ['access_token', 'refresh_token']));
  const state = async (connectionId: string) =>
    (await sql<{ status: string; refresh_failures: number; last_error: string | null }[]>`select status, refresh_failures, last_error from connections where id = ${connectionId}`)[0];

  beforeAll(async () => {
    ({ tenant, sql } = fixture);
    sim = await startProviderSimulator();
    sim.seed('etsy', shop, 3);
    for (const name of ['worker-a', 'worker-b']) pools.push(connectDatabase(fixture.hub.config.DATABASE_URL as string, { max: 2, applicationName: name }));
    workers = pools.map((pool) => new ConnectionService(pool.db, vault, { allowCustomUrls: true }));
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.close()));
    await sim?.close();
  });

  it('refreshes an Etsy connection once across two workers, stores the rotated refresh token, and leaves a fresh token alone', async () => {
    const issued = sim.tokens.issue('etsy', shop);
    // Expires within the margin (5 min): due for a refresh.
    const connectionId = await etsyConnection('Etsy refresh', issued, 60);
    // The refresh answer is slow, so the second worker arrives while the first holds the lock.
    sim.faults.slow('etsy', { delayMs: 300, scope: 'token', times: 1 });
    const [a, b] = workers.map((connections) => refresher(connections)) as [TokenRefreshService, TokenRefreshService];

    const tokens = await Promise.all([a.freshAccessToken(connectionId), b.freshAccessToken(connectionId)]);
    expect(sim.calls.refreshes('etsy', shop)).toBe(1);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[0]).not.toBe(issued.accessToken);

    const after = await stored(connectionId);
    expect(after.access_token?.value).toBe(tokens[0]);
    expect(after.access_token?.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 3000 * 1000);
    // The stored refresh token is the rotated one; the one used is revoked at the provider.
    expect(after.refresh_token?.value).not.toBe(issued.refreshToken);
    expect(sim.tokens.liveRefreshTokens('etsy', shop)).toEqual([after.refresh_token?.value]);
    const replay = await fetch(`${sim.baseUrls.etsy}/v3/public/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: sim.credentials.etsy.keystring, refresh_token: issued.refreshToken }),
    });
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
    const refreshesSoFar = sim.calls.refreshes('etsy', shop);

    // Later: the token is fresh, no refresh (and it works at the provider).
    expect(await b.freshAccessToken(connectionId)).toBe(tokens[0]);
    expect(sim.calls.refreshes('etsy', shop)).toBe(refreshesSoFar);
    const receipts = await fetch(`${sim.baseUrls.etsy}/v3/application/shops/${shop}/receipts?limit=1`, {
      headers: { 'x-api-key': sim.credentials.etsy.apiKey, authorization: `Bearer ${tokens[0]}` },
    });
    expect(receipts.status).toBe(200);
    expect(await state(connectionId)).toMatchObject({ status: 'active', refresh_failures: 0 });
  });

  it('refreshes a TikTok Shop connection once (its own refresh endpoint, rotating) for two workers', async () => {
    const tiktokShop = '7000123';
    sim.seed('tiktok', tiktokShop, 2);
    const issued = sim.tokens.issue('tiktok', tiktokShop);
    const [service] = workers as [ConnectionService];
    const created = await service.create(
      tenant.tenantId,
      createConnectionSchema.parse({ provider: 'tiktok_shop', name: 'TikTok refresh', settings: { baseUrls: { token: `${sim.baseUrls.tiktokAuth}/api/v2/token/get` } } }),
      'test',
    );
    await service.setCredentials(tenant.tenantId, created.id, { clientId: sim.credentials.tiktok.appKey, clientSecret: sim.credentials.tiktok.appSecret }, 'test');
    const row = await service.store.findById(created.id);
    await service.store.saveCredentials(
      row as NonNullable<typeof row>,
      [service.seal(created.id, 'access_token', issued.accessToken, new Date(Date.now() + 30_000)), service.seal(created.id, 'refresh_token', issued.refreshToken, null)],
      () => 'active',
      { actor: 'test', action: 'connection.authorized' },
    );
    sim.faults.slow('tiktok', { delayMs: 300, scope: 'token', times: 1 });

    const tokens = await Promise.all(workers.map((connections) => refresher(connections).freshAccessToken(created.id)));
    expect(sim.calls.refreshes('tiktok', tiktokShop)).toBe(1);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[0]).not.toBe(issued.accessToken);
    const after = await stored(created.id);
    expect(after.refresh_token?.value).not.toBe(issued.refreshToken);
    expect(sim.tokens.liveRefreshTokens('tiktok', tiktokShop)).toEqual([after.refresh_token?.value]);
  });

  it('counts refused refreshes, waits out 2^n seconds between tries, and leaves the connection needs_reauth after the limit', async () => {
    const issued = sim.tokens.issue('etsy', shop);
    const connectionId = await etsyConnection('Etsy refused', { accessToken: issued.accessToken, refreshToken: `${issued.refreshToken}-unknown` }, 10);
    let clock = Date.now();
    const service = refresher(workers[1] as ConnectionService, { maxFailures: 3, now: () => clock });
    const refreshes = () => sim.calls.refreshes('etsy');
    const attempt = () => service.freshAccessToken(connectionId).then(
      () => {
        throw new Error('expected a TokenRefreshError');
      },
      (error: unknown) => {
        expect(error).toBeInstanceOf(TokenRefreshError);
        return error as TokenRefreshError;
      },
    );
    const start = refreshes();

    const first = await attempt();
    expect(first).toMatchObject({ reason: 'refresh_failed', details: { failures: 1 } });
    expect(refreshes()).toBe(start + 1);
    expect(await state(connectionId)).toMatchObject({ status: 'active', refresh_failures: 1 });
    expect((await state(connectionId))?.last_error).toContain('invalid_grant');

    // Inside the 2 s window: no call.
    clock += 1500;
    expect(await attempt()).toMatchObject({ reason: 'backoff' });
    expect(refreshes()).toBe(start + 1);

    clock += 600;
    expect(await attempt()).toMatchObject({ reason: 'refresh_failed', details: { failures: 2 } });
    expect(refreshes()).toBe(start + 2);

    // The window is now 4 s.
    clock += 3500;
    expect(await attempt()).toMatchObject({ reason: 'backoff' });
    expect(refreshes()).toBe(start + 2);

    clock += 600;
    expect(await attempt()).toMatchObject({ reason: 'needs_reauth', details: { failures: 3 } });
    expect(refreshes()).toBe(start + 3);
    expect(await state(connectionId)).toMatchObject({ status: 'needs_reauth', refresh_failures: 3 });

    // No more calls, however long one waits, until the connection is authorized again.
    clock += 3_600_000;
    expect(await attempt()).toMatchObject({ reason: 'needs_reauth' });
    expect(refreshes()).toBe(start + 3);
  });
});
