import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionView } from '../../src/contracts/api/connections.js';
import { CredentialVault } from '../../src/platform/credential-vault.js';
import { connectDatabase } from '../../src/repositories/db/client.js';
import type { CreatedTenant } from '../../src/repositories/tenants.js';
import { ConnectionService } from '../../src/services/integrations/connections.js';
import { apiRequest, mintTokens } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import type { TestHub } from '../support/test-env.js';

const run = promisify(execFile);
const oldKey = randomBytes(32).toString('base64');
const newKey = randomBytes(32).toString('base64');

// Secrets the API is given or the provider hands out: none may appear in an answer or in the database.
const secrets = {
  shopifyToken: `shpat_${randomBytes(16).toString('hex')}`,
  stripeKey: `sk_test_${randomBytes(16).toString('hex')}`,
  etsyKeystring: `etsykey${randomBytes(8).toString('hex')}`,
  tiktokSecret: `ttsecret${randomBytes(12).toString('hex')}`,
  accessToken: `12345678.access${randomBytes(16).toString('hex')}`,
  refreshToken: `12345678.refresh${randomBytes(16).toString('hex')}`,
  tiktokAccess: `ROW_tt_access${randomBytes(16).toString('hex')}`,
  tiktokRefresh: `ROW_tt_refresh${randomBytes(16).toString('hex')}`,
};
const verifiersSeen: string[] = [];

/** A tiny provider: Etsy's token endpoint (form POST, PKCE verifier checked) and TikTok Shop's (GET with app key and secret). */
function startTokenServer() {
  const challenges = new Map<string, string>();
  const calls: { path: string; ok: boolean }[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => {
        calls.push({ path: url.pathname, ok: status === 200 });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.method === 'POST' && url.pathname === '/v3/public/oauth/token') {
        const form = new URLSearchParams(raw);
        const code = form.get('code') ?? '';
        const verifier = form.get('code_verifier') ?? '';
        verifiersSeen.push(verifier);
        const challenge = challenges.get(code);
        const pkceOk = challenge !== undefined && createHash('sha256').update(verifier).digest('base64url') === challenge;
        if (form.get('grant_type') !== 'authorization_code' || form.get('client_id') !== secrets.etsyKeystring || !form.get('redirect_uri')?.endsWith('/oauth/callback') || !pkceOk) {
          answer(400, { error: 'invalid_grant', error_description: 'code, client or verifier mismatch' });
          return;
        }
        challenges.delete(code);
        answer(200, { access_token: secrets.accessToken, token_type: 'Bearer', expires_in: 3600, refresh_token: secrets.refreshToken });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/api/v2/token/get') {
        const ok = url.searchParams.get('app_key') === 'tt-app-key' && url.searchParams.get('app_secret') === secrets.tiktokSecret && url.searchParams.get('auth_code') === 'tt-code' && url.searchParams.get('grant_type') === 'authorized_code';
        const now = Math.floor(Date.now() / 1000);
        answer(200, ok
          ? { code: 0, message: 'success', data: { access_token: secrets.tiktokAccess, access_token_expire_in: now + 7 * 86400, refresh_token: secrets.tiktokRefresh, refresh_token_expire_in: now + 60 * 86400, open_id: 'x', seller_name: 'Shop' } }
          : { code: 36004004, message: 'invalid auth code', data: {} });
        return;
      }
      answer(404, { error: 'not_found' });
    });
  });
  return {
    server,
    calls,
    /** What the browser does at the provider: the user approves, the provider issues `code` for the challenge it was shown. */
    approve(authorizeUrl: string, code: string) {
      const url = new URL(authorizeUrl);
      challenges.set(code, url.searchParams.get('code_challenge') ?? '');
      return url.searchParams.get('state') ?? '';
    },
    get url() {
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };
}

describe('integration connections', () => {
  const fixture = useTenantHub('connections', { role: 'hub', env: { CREDENTIALS_KEY: `old:${oldKey}` } });
  const provider = startTokenServer();
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  /** Every answer body the API gave in this file: checked for secrets at the end. */
  const answers: string[] = [];

  async function call<T = ConnectionView>(method: string, path: string, options: { token?: string | null; body?: unknown; redirect?: 'manual' } = {}) {
    const token = options.token === null ? undefined : (options.token ?? tenant.apiKey);
    const response = options.redirect
      ? await fetch(`${hub.url}${path}`, { method, redirect: 'manual', headers: token ? { authorization: `Bearer ${token}` } : {} })
      : await apiRequest(hub.url, method, path, { ...(token ? { token } : {}), ...(options.body === undefined ? {} : { body: options.body }) });
    const text = await response.text();
    answers.push(text, JSON.stringify([...response.headers]));
    return { status: response.status, headers: response.headers, text, body: (text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined) as T };
  }

  const create = (body: Record<string, unknown>) => call('POST', '/api/v1/admin/connections', { body });

  beforeAll(async () => {
    ({ hub, tenant, sql } = fixture);
    await new Promise<void>((resolve) => provider.server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    provider.server.closeAllConnections();
    await new Promise((resolve) => provider.server.close(resolve));
  });

  it('creates, lists a page at a time, reads, changes and deletes connections, validated per provider, audited, for the API key and admins only', async () => {
    expect((await call('GET', '/api/v1/admin/connections', { token: null })).status).toBe(401);
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'member' });
    const admin = await mintTokens(hub.url, tenant.apiKey, { userId: 'boss', role: 'admin' });
    expect((await call('POST', '/api/v1/admin/connections', { token: member.accessToken, body: { provider: 'stripe', name: 'x', settings: {} } })).status).toBe(403);
    expect((await call('GET', '/api/v1/admin/connections', { token: member.accessToken })).status).toBe(403);

    const invalid = await create({ provider: 'shopify', name: 'Bad', settings: { shopDomain: 'acme.example.com' }, scheduleMinutes: 1 });
    expect(invalid.status).toBe(400);
    expect((invalid.body as unknown as { errors: { path: string }[] }).errors.map((error) => error.path).sort()).toEqual(['scheduleMinutes', 'settings.shopDomain']);
    expect((await create({ provider: 'amazon', name: 'Nope', settings: {} })).status).toBe(400);
    expect((await create({ provider: 'etsy', name: 'No shop', settings: {} })).body).toMatchObject({ errors: [{ path: 'settings.shopId' }] });
    expect((await create({ provider: 'stripe', name: 'Extra', settings: { shopDomain: 'acme.myshopify.com' } })).status).toBe(400);

    const shop = await create({ provider: 'shopify', name: 'Main store', settings: { shopDomain: 'acme.myshopify.com' } });
    expect(shop.status).toBe(201);
    expect(shop.body).toMatchObject({ provider: 'shopify', status: 'needs_reauth', settings: { shopDomain: 'acme.myshopify.com', apiVersion: '2025-01' }, scheduleMinutes: 60, credentials: [], mapping: { userField: 'email' } });
    expect((await create({ provider: 'stripe', name: 'Main store', settings: {} })).status).toBe(409);
    const byAdmin = await call('POST', '/api/v1/admin/connections', { token: admin.accessToken, body: { provider: 'stripe', name: 'Payments', settings: {}, scheduleMinutes: null } });
    expect(byAdmin).toMatchObject({ status: 201, body: { scheduleMinutes: null } });
    for (const name of ['Third', 'Fourth']) expect((await create({ provider: 'stripe', name, settings: {} })).status).toBe(201);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { connections: ConnectionView[]; nextCursor: string | null } } = await call('GET', `/api/v1/admin/connections?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.connections.map((connection) => connection.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['Main store', 'Payments', 'Third', 'Fourth']);
    expect((await call('GET', '/api/v1/admin/connections?cursor=bad!')).status).toBe(400);
    expect((await call('GET', '/api/v1/admin/connections?cursor=eyJ4IjoxfQ')).status).toBe(400);

    const id = shop.body.id;
    expect((await call('GET', `/api/v1/admin/connections/${id}`)).body).toMatchObject({ id, name: 'Main store', sync: { counts: { records: 0, events: 0, unmatched: 0 } } });
    expect((await call('GET', '/api/v1/admin/connections/not-a-uuid')).status).toBe(400);
    expect((await call('GET', `/api/v1/admin/connections/${crypto.randomUUID()}`)).status).toBe(404);

    const patched = await call('PATCH', `/api/v1/admin/connections/${id}`, { body: { scheduleMinutes: 30, settings: { apiVersion: '2025-04' } } });
    expect(patched.body).toMatchObject({ scheduleMinutes: 30, settings: { shopDomain: 'acme.myshopify.com', apiVersion: '2025-04' } });
    expect((await call('PATCH', `/api/v1/admin/connections/${id}`, { body: { settings: { shopDomain: 'nope' } } })).body).toMatchObject({ errors: [{ path: 'settings.shopDomain' }] });
    expect((await call('PATCH', `/api/v1/admin/connections/${id}`, { body: {} })).status).toBe(400);
    expect((await call('PATCH', `/api/v1/admin/connections/${id}`, { body: { name: 'Payments' } })).status).toBe(409);
    expect((await call('PATCH', `/api/v1/admin/connections/${id}`, { body: { status: 'disabled' } })).body.status).toBe('disabled');
    expect((await call('PATCH', `/api/v1/admin/connections/${id}`, { body: { status: 'active' } })).body.status).toBe('needs_reauth');

    expect((await call('DELETE', `/api/v1/admin/connections/${byAdmin.body.id}`, { token: member.accessToken })).status).toBe(403);
    expect((await call('DELETE', `/api/v1/admin/connections/${byAdmin.body.id}`)).status).toBe(204);
    expect((await call('DELETE', `/api/v1/admin/connections/${byAdmin.body.id}`)).status).toBe(404);

    const audit = await sql<{ action: string; actor: string }[]>`select action, actor from audit_log where tenant_id = ${tenant.tenantId} and action like 'connection.%' order by id`;
    expect(audit.map((row) => row.action)).toEqual(['connection.created', 'connection.created', 'connection.created', 'connection.created', 'connection.updated', 'connection.updated', 'connection.updated', 'connection.deleted']);
    expect(audit[1]?.actor).toMatch(/^user:/);
  });

  it('takes secrets write-only: sealed, shown as kinds only, and the connection becomes active', async () => {
    const [shop] = await sql<{ id: string }[]>`select id from connections where tenant_id = ${tenant.tenantId} and name = 'Main store'`;
    const id = shop?.id as string;
    expect((await call('PUT', `/api/v1/admin/connections/${id}/credentials`, { body: { clientSecret: secrets.tiktokSecret } })).body).toMatchObject({
      errors: [{ path: 'clientSecret' }, { path: 'apiKey' }],
    });
    expect((await call('PUT', `/api/v1/admin/connections/${id}/credentials`, { body: { apiKey: 'has space inside' } })).status).toBe(400);
    const stored = await call('PUT', `/api/v1/admin/connections/${id}/credentials`, { body: { apiKey: secrets.shopifyToken } });
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ status: 'active', credentials: [{ kind: 'api_key', expiresAt: null }] });

    const stripe = await create({ provider: 'stripe', name: 'Stripe live', settings: { accountId: 'acct_123' } });
    expect((await call('PUT', `/api/v1/admin/connections/${stripe.body.id}/credentials`, { body: { apiKey: secrets.stripeKey } })).body.status).toBe('active');
    expect((await call('GET', `/api/v1/admin/connections/${stripe.body.id}/authorize`, { redirect: 'manual' })).status).toBe(409);

    const [row] = await sql<{ key_id: string; sealed: string }[]>`select key_id, sealed from connection_credentials where connection_id = ${id}`;
    expect(row?.key_id).toBe('old');
    expect(row?.sealed.startsWith('v1.old.')).toBe(true);
    const audit = await sql<{ details: unknown }[]>`select details from audit_log where action = 'connection.credentials_set' and target = ${`connection:${id}`}`;
    expect(audit.map((entry) => entry.details)).toEqual([{ kinds: ['api_key'] }]);
  });

  it('authorizes Etsy with PKCE: a single-use state bound to the connection, the code exchanged with its verifier, tokens sealed', async () => {
    const etsy = await create({ provider: 'etsy', name: 'Etsy shop', settings: { shopId: '4242', baseUrls: { authorize: `${provider.url}/oauth/connect`, token: `${provider.url}/v3/public/oauth/token` } } });
    expect(etsy.status).toBe(201);
    const id = etsy.body.id;
    expect((await call('GET', `/api/v1/admin/connections/${id}/authorize`, { redirect: 'manual' })).status).toBe(409);
    expect((await call('PUT', `/api/v1/admin/connections/${id}/credentials`, { body: { clientId: secrets.etsyKeystring } })).body).toMatchObject({ status: 'needs_reauth', credentials: [{ kind: 'client_id' }] });

    const redirect = await call<{ authorizeUrl: string }>('GET', `/api/v1/admin/connections/${id}/authorize`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(`${provider.url}/oauth/connect`);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ response_type: 'code', client_id: secrets.etsyKeystring, code_challenge_method: 'S256', scope: 'transactions_r shops_r', redirect_uri: `${hub.url}/oauth/callback` });
    expect(location.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(location.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(redirect.body.authorizeUrl).toBe(location.toString());
    const state = provider.approve(location.toString(), 'good-code');

    // The database holds neither the state nor the verifier in the clear.
    const [pending] = await sql<{ state_hash: string; code_verifier: string }[]>`select state_hash, code_verifier from oauth_states where connection_id = ${id}`;
    expect(pending?.state_hash).toBe(createHash('sha256').update(state).digest('hex'));
    expect(pending?.code_verifier.startsWith('v1.old.')).toBe(true);

    const done = await call('GET', `/oauth/callback?code=good-code&state=${state}`, { token: null });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Etsy shop');
    const connected = await call('GET', `/api/v1/admin/connections/${id}`);
    expect(connected.body.status).toBe('active');
    expect(connected.body.credentials.map((credential) => credential.kind).sort()).toEqual(['access_token', 'client_id', 'refresh_token']);
    expect(Date.parse(connected.body.credentials.find((credential) => credential.kind === 'access_token')?.expiresAt ?? '')).toBeGreaterThan(Date.now() + 3500_000);
    expect(verifiersSeen.at(-1)).toMatch(/^[\w-]{64}$/);

    // Reused, expired and unknown states are refused, saying which.
    const reused = await call('GET', `/oauth/callback?code=good-code&state=${state}`, { token: null });
    expect(reused).toMatchObject({ status: 400, body: { code: 'oauth_state_reused' } });
    const second = new URL((await call<{ authorizeUrl: string }>('GET', `/api/v1/admin/connections/${id}/authorize?redirect=false`)).body.authorizeUrl);
    const expiredState = provider.approve(second.toString(), 'late-code');
    await sql`update oauth_states set expires_at = now() - interval '1 second' where state_hash = ${createHash('sha256').update(expiredState).digest('hex')}`;
    expect(await call('GET', `/oauth/callback?code=late-code&state=${expiredState}`, { token: null })).toMatchObject({ status: 400, body: { code: 'oauth_state_expired' } });
    expect(await call('GET', `/oauth/callback?code=good-code&state=${randomBytes(32).toString('base64url')}`, { token: null })).toMatchObject({ status: 400, body: { code: 'oauth_state_unknown' } });
    expect(await call('GET', '/oauth/callback?code=good-code', { token: null })).toMatchObject({ status: 400, body: { code: 'oauth_state_missing' } });

    // A code the provider refuses (wrong verifier: the state of another authorization) is a 502, recorded on the connection.
    const third = new URL((await call<{ authorizeUrl: string }>('GET', `/api/v1/admin/connections/${id}/authorize?redirect=false`)).body.authorizeUrl);
    const fourth = new URL((await call<{ authorizeUrl: string }>('GET', `/api/v1/admin/connections/${id}/authorize?redirect=false`)).body.authorizeUrl);
    provider.approve(third.toString(), 'crossed-code');
    const crossed = await call('GET', `/oauth/callback?code=crossed-code&state=${fourth.searchParams.get('state')}`, { token: null });
    expect(crossed).toMatchObject({ status: 502, body: { code: 'oauth_exchange_failed' } });
    expect((await call('GET', `/api/v1/admin/connections/${id}`)).body.sync.lastError).toMatch(/invalid_grant/);
    // A provider's refusal consumes the state too.
    expect(await call('GET', `/oauth/callback?error=access_denied&state=${third.searchParams.get('state')}`, { token: null })).toMatchObject({ status: 400, body: { code: 'oauth_state_denied' } });
  });

  it("authorizes TikTok Shop with its own authorize URL (app_key, state) and token request", async () => {
    const tiktok = await create({ provider: 'tiktok_shop', name: 'TikTok', settings: { baseUrls: { authorize: `${provider.url}/oauth/authorize`, token: `${provider.url}/api/v2/token/get` } } });
    const id = tiktok.body.id;
    expect((await call('PUT', `/api/v1/admin/connections/${id}/credentials`, { body: { clientId: 'tt-app-key' } })).body).toMatchObject({ errors: [{ path: 'clientSecret' }] });
    await call('PUT', `/api/v1/admin/connections/${id}/credentials`, { body: { clientId: 'tt-app-key', clientSecret: secrets.tiktokSecret } });
    const location = new URL((await call('GET', `/api/v1/admin/connections/${id}/authorize`, { redirect: 'manual' })).headers.get('location') ?? '');
    expect([...location.searchParams.keys()].sort()).toEqual(['app_key', 'state']);
    const done = await call('GET', `/oauth/callback?code=tt-code&state=${location.searchParams.get('state')}&locale=en`, { token: null });
    expect(done.status).toBe(200);
    expect((await call('GET', `/api/v1/admin/connections/${id}`)).body).toMatchObject({ status: 'active' });
  });

  it('marks a connection broken when a stored secret was tampered with, and answers 409', async () => {
    const etsy = await create({ provider: 'etsy', name: 'Tampered', settings: { shopId: '1' } });
    await call('PUT', `/api/v1/admin/connections/${etsy.body.id}/credentials`, { body: { clientId: 'some-client-id' } });
    // A ciphertext moved from another row is as bad as a flipped bit.
    await sql`update connection_credentials set sealed = (select sealed from connection_credentials c join connections k on k.id = c.connection_id where k.name = 'Etsy shop' and c.kind = 'client_id') where connection_id = ${etsy.body.id}`;
    const refused = await call('GET', `/api/v1/admin/connections/${etsy.body.id}/authorize`, { redirect: 'manual' });
    expect(refused).toMatchObject({ status: 409, body: { code: 'credentials_unreadable' } });
    expect((await call('GET', `/api/v1/admin/connections/${etsy.body.id}`)).body).toMatchObject({ status: 'broken', sync: { lastError: expect.stringMatching(/client_id/) } });
  });

  it('never shows a secret in an answer, and the database holds none in plaintext (pg_dump)', async () => {
    const everything = answers.join('\n');
    const { stdout: dump } = await run('pg_dump', ['--no-owner', '--data-only', hub.config.DATABASE_URL as string], { maxBuffer: 64 * 1024 * 1024 });
    expect(dump).toContain('v1.old.');
    for (const [name, value] of Object.entries(secrets)) {
      // Etsy's keystring is its public client id: it travels in the authorize URL by design.
      if (name !== 'etsyKeystring') expect(everything.includes(value), `${name} in an API answer`).toBe(false);
      expect(dump.includes(value), `${name} in the database`).toBe(false);
    }
    for (const verifier of verifiersSeen) expect(dump.includes(verifier)).toBe(false);
  });

  it('rotates every secret to the new key (npm run credentials:rotate --json) while the old ring still reads; all of them open afterwards', async () => {
    const before = await sql<{ n: number }[]>`select count(*)::int as n from connection_credentials where key_id = 'old'`;
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-rotate-'));
    const env = { ...process.env, NODE_ENV: 'test', DATABASE_URL: hub.config.DATABASE_URL as string, DATA_DIR: dataDir, LOG_LEVEL: 'error', CREDENTIALS_KEY: `new:${newKey},old:${oldKey}` };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/roles/cli/credentials-rotate.ts', '--json', '--batch-size', '2'], { env }).catch((error: { stdout: string }) => error);
    const report = JSON.parse(stdout) as { currentKeyId: string; total: number; rotated: number; failed: { target: string }[] };
    // The tampered connection's secret is reported, the rest re-sealed (the pending states' verifiers too).
    expect(report.currentKeyId).toBe('new');
    expect(report.failed).toEqual([expect.objectContaining({ target: expect.stringMatching(/client_id$/) })]);
    expect(report.rotated).toBeGreaterThanOrEqual((before[0]?.n ?? 0) - 1);
    const left = await sql<{ key_id: string; n: number }[]>`select key_id, count(*)::int as n from connection_credentials group by key_id order by key_id`;
    expect(left).toEqual([{ key_id: 'new', n: (before[0]?.n ?? 0) - 1 }, { key_id: 'old', n: 1 }]);

    // With only the new key, every healthy connection's secrets open.
    const database = connectDatabase(hub.config.DATABASE_URL as string, { max: 1, applicationName: 'test' });
    try {
      const service = new ConnectionService(database.db, CredentialVault.fromKeyRing(`new:${newKey}`), { allowCustomUrls: true });
      const rows = await sql<{ id: string; name: string }[]>`select id, name from connections where tenant_id = ${tenant.tenantId} and status <> 'broken' and id in (select connection_id from connection_credentials)`;
      const opened = Object.fromEntries(await Promise.all(rows.map(async (row) => [row.name, await service.openCredentials(row.id)] as const)));
      expect(opened['Main store']?.api_key?.value).toBe(secrets.shopifyToken);
      expect(opened['Stripe live']?.api_key?.value).toBe(secrets.stripeKey);
      expect(opened['Etsy shop']?.access_token?.value).toBe(secrets.accessToken);
      expect(opened['Etsy shop']?.refresh_token?.value).toBe(secrets.refreshToken);
      expect(opened.TikTok?.client_secret?.value).toBe(secrets.tiktokSecret);
    } finally {
      await database.close();
    }
    // A second run has nothing left but the unreadable one.
    const again = JSON.parse((await run(process.execPath, ['--import', 'tsx', 'src/roles/cli/credentials-rotate.ts', '--json'], { env }).catch((error: { stdout: string }) => error)).stdout) as { total: number; rotated: number };
    expect(again).toMatchObject({ total: 1, rotated: 0 });
  });
});
