import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { apiRequest, mintTokens } from '../support/api-client.js';
import { connected, openSocket, refusedWith, type TestSocket } from '../support/socket-client.js';
import { useTestHub, type TestHub } from '../support/test-env.js';

describe('authenticated sockets', () => {
  let hub: TestHub;
  let tenant: CreatedTenant;
  const sockets: TestSocket[] = [];
  const open = (token: string | undefined) => {
    const socket = openSocket(hub.url, token);
    sockets.push(socket);
    return socket;
  };

  // Short-lived tokens so expiry can be observed; a low client-event limit so flooding is quick.
  const fixture = useTestHub({ role: 'hub', env: { ACCESS_TOKEN_TTL_SECONDS: '4', SOCKET_EVENTS_PER_SECOND: '5', SOCKET_EVENTS_BURST: '10' } });
  beforeAll(async () => {
    hub = fixture.hub;
    tenant = await createTenant(hub.context.database.db, { name: 'sockets', actor: 'test' });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  it('refuses a handshake without a valid token, saying why', async () => {
    expect(await refusedWith(open(undefined))).toBe('unauthorized');
    expect(await refusedWith(open('garbage'))).toBe('unauthorized');
    expect(await refusedWith(open(tenant.apiKey))).toBe('unauthorized');
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'late' });
    await new Promise((resolve) => setTimeout(resolve, 4_100));
    expect(await refusedWith(open(member.accessToken))).toBe('token_expired');
  });

  it('lets a member into streams of its tenant but not the dashboard or other rooms', async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'member-1' });
    const socket = open(member.accessToken);
    await connected(socket);
    expect(await socket.emitWithAck('subscribe', { room: 'stream:news' })).toEqual({ ok: true, room: 'stream:news' });
    expect(await socket.emitWithAck('unsubscribe', { room: 'stream:news' })).toEqual({ ok: true, room: 'stream:news' });
    for (const room of ['dashboard', `tenant:${tenant.tenantId}`, 'user:someone-else', 'stream:']) {
      const answer = await socket.emitWithAck('subscribe', { room });
      expect(answer).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expect(await socket.emitWithAck('subscribe', { room: 42 } as never)).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    const unknown = await (socket as unknown as Socket).emitWithAck('teleport', { to: 'mars' });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown_event', message: expect.stringContaining('teleport') } });
  });

  it('lets an admin into the dashboard room', async () => {
    const admin = await mintTokens(hub.url, tenant.apiKey, { userId: 'admin-1', role: 'admin' });
    const socket = open(admin.accessToken);
    await connected(socket);
    expect(await socket.emitWithAck('subscribe', { room: 'dashboard' })).toEqual({ ok: true, room: 'dashboard' });
  });

  it('tracks an event with the same rules and idempotency as REST', async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'tracker' });
    const socket = open(member.accessToken);
    await connected(socket);
    const first = await socket.emitWithAck('track', { type: 'lesson.completed', value: 3, idempotencyKey: 'lesson-7' });
    const again = await socket.emitWithAck('track', { type: 'lesson.completed', value: 3, idempotencyKey: 'lesson-7' });
    expect(first).toMatchObject({ ok: true, accepted: { duplicate: false } });
    expect(again).toMatchObject({ ok: true, accepted: { duplicate: true } });
    if (first.ok && again.ok) expect(again.accepted.id).toBe(first.accepted.id);
    expect(await socket.emitWithAck('track', { type: 'x', userId: 'someone-else' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await socket.emitWithAck('track', { type: 'Bad Type' })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
  });

  it('expires a socket whose token runs out, unless auth:refresh replaced it in time', async () => {
    const idle = await mintTokens(hub.url, tenant.apiKey, { userId: 'idle' });
    const kept = await mintTokens(hub.url, tenant.apiKey, { userId: 'kept' });
    const idleSocket = open(idle.accessToken);
    const keptSocket = open(kept.accessToken);
    await Promise.all([connected(idleSocket), connected(keptSocket)]);
    const expired = new Promise((resolve) => idleSocket.once('session:expired', resolve));
    const idleGone = new Promise((resolve) => idleSocket.once('disconnect', resolve));

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const fresh = await mintTokens(hub.url, tenant.apiKey, { userId: 'kept' });
    const refreshed = await keptSocket.emitWithAck('auth:refresh', { token: fresh.accessToken });
    expect(refreshed).toMatchObject({ ok: true, expiresAt: expect.any(String) });
    const someoneElse = await mintTokens(hub.url, tenant.apiKey, { userId: 'intruder' });
    expect(await keptSocket.emitWithAck('auth:refresh', { token: someoneElse.accessToken })).toMatchObject({ ok: false, error: { code: 'forbidden' } });

    expect(await expired).toEqual({ reason: 'token_expired' });
    // Both first tokens were minted together, so they share an expiry: the refreshed socket is
    // now past its first token's and still served, while the expired one is refused, then dropped.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(keptSocket.connected).toBe(true);
    expect(await keptSocket.emitWithAck('subscribe', { room: 'stream:still-here' })).toMatchObject({ ok: true });
    expect(await idleSocket.emitWithAck('subscribe', { room: 'stream:too-late' })).toMatchObject({ ok: false, error: { code: 'token_expired' } });
    await idleGone;
  });

  it('broadcasts a published stream message to that tenant\'s subscribers only', async () => {
    const other = await createTenant(hub.context.database.db, { name: 'other-tenant', actor: 'test' });
    const [reader, idler, outsider] = await Promise.all([
      mintTokens(hub.url, tenant.apiKey, { userId: 'reader' }),
      mintTokens(hub.url, tenant.apiKey, { userId: 'idler' }),
      mintTokens(hub.url, other.apiKey, { userId: 'reader' }),
    ]);
    const readerSocket = open(reader.accessToken);
    const idlerSocket = open(idler.accessToken);
    const outsiderSocket = open(outsider.accessToken);
    await Promise.all([connected(readerSocket), connected(idlerSocket), connected(outsiderSocket)]);
    await readerSocket.emitWithAck('subscribe', { room: 'stream:news' });
    await outsiderSocket.emitWithAck('subscribe', { room: 'stream:news' });
    const strays: unknown[] = [];
    idlerSocket.on('stream:message', (message) => strays.push(message));
    outsiderSocket.on('stream:message', (message) => strays.push(message));
    const received = new Promise((resolve) => readerSocket.once('stream:message', resolve));

    const published = await apiRequest(hub.url, 'POST', '/api/v1/streams/news/messages', { token: tenant.apiKey, body: { data: { headline: 'hello' } } });
    expect(published.status).toBe(202);
    const message = (await received) as { stream: string; data: unknown; at: string };
    expect(message).toMatchObject({ stream: 'stream:news', data: { headline: 'hello' } });
    expect(Date.parse(message.at)).toBeLessThanOrEqual(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(strays).toEqual([]);

    const byMember = await apiRequest(hub.url, 'POST', '/api/v1/streams/news/messages', { token: reader.accessToken, body: { data: {} } });
    expect(byMember.status).toBe(403);
    const badName = await apiRequest(hub.url, 'POST', '/api/v1/streams/Bad%20Name/messages', { token: tenant.apiKey, body: { data: {} } });
    expect(badName.status).toBe(400);
  });

  it('rate limits a flood of client events and stays healthy', async () => {
    const flooder = await mintTokens(hub.url, tenant.apiKey, { userId: 'flooder' });
    const socket = open(flooder.accessToken);
    await connected(socket);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => socket.emitWithAck('subscribe', { room: `stream:s${i}` })));
    const limited = answers.filter((answer) => !answer.ok && answer.error.code === 'rate_limited');
    expect(limited.length).toBeGreaterThanOrEqual(25);
    expect(answers.filter((answer) => answer.ok).length).toBeLessThanOrEqual(15);

    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    const bystander = await mintTokens(hub.url, tenant.apiKey, { userId: 'bystander' });
    const calm = open(bystander.accessToken);
    await connected(calm);
    expect(await calm.emitWithAck('subscribe', { room: 'stream:calm' })).toMatchObject({ ok: true });
  });
});
