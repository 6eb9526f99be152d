import { randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Problem } from '../../src/contracts/api/problem.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { apiRequest, mintTokens, postEvents } from '../support/api-client.js';
import { useTestHub, type TestHub } from '../support/test-env.js';

describe('authentication and tokens', () => {
  let hub: TestHub;
  let acme: CreatedTenant;
  let globex: CreatedTenant;

  const sign = (claims: Record<string, unknown>, options: { key?: string; expiresAt?: number } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(typeof claims.sub === 'string' ? claims.sub : randomUUID())
      .setIssuer('pulse-hub')
      .setJti(randomUUID())
      .setExpirationTime(options.expiresAt ?? '5m')
      .sign(new TextEncoder().encode(options.key ?? hub.config.JWT_SECRET));

  async function expectProblem(response: Response, status: number, code?: string): Promise<Problem> {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await response.json()) as Problem;
    expect(problem).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
    if (code) expect(problem.code).toBe(code);
    return problem;
  }

  // The matrix below fails authentication on purpose; keep it clear of the brute-force guard.
  const fixture = useTestHub({ role: 'hub', env: { RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000' } });
  beforeAll(async () => {
    hub = fixture.hub;
    acme = await createTenant(hub.context.database.db, { name: 'acme', actor: 'test' });
    globex = await createTenant(hub.context.database.db, { name: 'globex', actor: 'test' });
  });

  describe('rejects bad credentials with 401 problem+json', () => {
    const event = { type: 'app.opened', userId: 'u1' };
    const cases: [string, () => Promise<string | undefined>, string][] = [
      ['no token', () => Promise.resolve(undefined), 'unauthorized'],
      ['a garbage token', () => Promise.resolve('garbage'), 'unauthorized'],
      ['a garbage API key', () => Promise.resolve(`phk_${'0'.repeat(32)}_${'a'.repeat(43)}`), 'unauthorized'],
      ['a wrong signature', () => sign({ tid: acme.tenantId, role: 'admin' }, { key: 'not-the-hub-secret-but-long-enough-123' }), 'unauthorized'],
      ['alg none', () => Promise.resolve(new UnsecuredJWT({ tid: acme.tenantId, role: 'admin' }).setSubject(randomUUID()).setIssuer('pulse-hub').setExpirationTime('5m').encode()), 'unauthorized'],
      ['an expired token', () => sign({ tid: acme.tenantId, role: 'member' }, { expiresAt: Math.floor(Date.now() / 1000) - 60 }), 'token_expired'],
    ];
    it.each(cases)('%s', async (_name, makeToken, code) => {
      await expectProblem(await apiRequest(hub.url, 'POST', '/api/v1/events', { token: await makeToken(), body: event }), 401, code);
    });
  });

  it('mints a token pair that authenticates as the user, with the requested profile', async () => {
    const pair = await mintTokens(hub.url, acme.apiKey, { userId: 'ada', displayName: 'Ada', timezone: 'Europe/London' });
    expect(pair).toMatchObject({ expiresIn: 900, user: { externalId: 'ada', timezone: 'Europe/London', role: 'member' } });
    const posted = await postEvents(hub.url, pair.accessToken, { type: 'app.opened' });
    expect(posted.status).toBe(202);
  });

  it('refuses to mint tokens with a user token, and validates the profile', async () => {
    const pair = await mintTokens(hub.url, acme.apiKey, { userId: 'bob' });
    await expectProblem(await apiRequest(hub.url, 'POST', '/api/v1/tokens', { token: pair.accessToken, body: { userId: 'x' } }), 403, 'forbidden');
    const invalid = await expectProblem(
      await apiRequest(hub.url, 'POST', '/api/v1/tokens', { token: acme.apiKey, body: { userId: '', timezone: 'Mars/Olympus' } }),
      400,
      'validation_failed',
    );
    expect(invalid.errors?.map((error) => error.path).sort()).toEqual(['timezone', 'userId']);
  });

  it('keeps tenants apart: a member may not act for another user, and sees only its own tenant', async () => {
    await postEvents(hub.url, globex.apiKey, { type: 'secret.thing', userId: 'shared-id' });
    const member = await mintTokens(hub.url, acme.apiKey, { userId: 'carol' });
    await expectProblem(await apiRequest(hub.url, 'POST', '/api/v1/events', { token: member.accessToken, body: { type: 'x', userId: 'shared-id' } }), 403);
    await expectProblem(await apiRequest(hub.url, 'GET', '/api/v1/events?userId=shared-id', { token: member.accessToken }), 403);

    const admin = await mintTokens(hub.url, acme.apiKey, { userId: 'acme-admin', role: 'admin' });
    const listed = await apiRequest(hub.url, 'GET', '/api/v1/events?userId=shared-id', { token: admin.accessToken });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { items: unknown[] }).items).toEqual([]);

    // A token whose tenant claim names Globex but that Acme's users cannot obtain: forged, so refused.
    const forged = await sign({ sub: member.user.id, tid: globex.tenantId, role: 'admin' }, { key: 'x'.repeat(40) });
    await expectProblem(await apiRequest(hub.url, 'GET', '/api/v1/events', { token: forged }), 401);
  });

  it('rotates refresh tokens and revokes the family when a rotated one is reused', async () => {
    const first = await mintTokens(hub.url, acme.apiKey, { userId: 'dave' });
    const refresh = (token: string) => apiRequest(hub.url, 'POST', '/api/v1/tokens/refresh', { body: { refreshToken: token } });

    const rotated = await refresh(first.refreshToken);
    expect(rotated.status).toBe(200);
    const second = (await rotated.json()) as typeof first;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.user.externalId).toBe('dave');
    expect((await postEvents(hub.url, second.accessToken, { type: 'app.opened' })).status).toBe(202);

    await expectProblem(await refresh(first.refreshToken), 401, 'refresh_token_reused');
    // The thief's reuse also burns the legitimate holder's newer token.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expectProblem(await refresh(second.refreshToken), 401, 'refresh_token_revoked');
    await expectProblem(await refresh(`phr_${'0'.repeat(32)}_${'b'.repeat(43)}`), 401, 'invalid_refresh_token');
  });
});
