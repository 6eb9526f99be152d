import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../src/server/realtime/socket-server.js';
import type { ServerToClientEvents, ClientToServerEvents } from '../../src/contracts/socket/contracts.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { parseOpenPacket, pollingPath, PollingSession, rawRequest, RawWebSocket, websocketUrl } from '../support/engine-io.js';
import { ACTIVITY_ONLY_RULES } from '../support/engine-rules.js';
import { PulseProcess } from '../support/pulse-process.js';
import { connected, openSocket } from '../support/socket-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { createTestDatabase, testEnv, type TestDatabase } from '../support/test-env.js';

/**
 * Issue E1: an unauthenticated polling handshake (plain curl) crashed the hub, and browsers on
 * another origin could not connect with the stock client's default transports (polling first).
 */

const ALLOWED = 'http://allowed.test';
type StockSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const healthz = async (url: string) => (await rawRequest(url, '/healthz')).status;

describe('socket transports (E1)', () => {
  const fixture = useTenantHub('transports', { rules: ACTIVITY_ONLY_RULES, env: { CORS_ORIGINS: ALLOWED } });

  /** A websocket-only client of the test helper: proof that the hub still serves sockets. */
  async function stillServesSockets(userId: string) {
    const { accessToken } = await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId });
    const socket = openSocket(fixture.hub.url, accessToken);
    fixture.sockets.push(socket);
    await connected(socket);
    expect(await socket.emitWithAck('subscribe', { room: 'stream:alive' })).toEqual({ ok: true, room: 'stream:alive' });
  }

  it('answers an unauthenticated curl-style polling handshake with an open packet and keeps serving', async () => {
    const response = await rawRequest(fixture.hub.url, pollingPath());
    expect(response.status).toBe(200);
    const open = parseOpenPacket(response.body);
    expect(open).toMatchObject({ upgrades: ['websocket'], maxPayload: MAX_SOCKET_PAYLOAD_BYTES });
    expect(open.sid).toMatch(/^[\w-]{10,}$/);
    // Engine.IO owns the response: none of Express's headers (helmet, request id) were added to it.
    expect(response.headers['x-powered-by']).toBeUndefined();
    expect(response.headers['content-security-policy']).toBeUndefined();

    // The same again, many times and in parallel, then the hub's other surfaces.
    const burst = await Promise.all(Array.from({ length: 20 }, () => rawRequest(fixture.hub.url, pollingPath())));
    expect(burst.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(await healthz(fixture.hub.url)).toBe(200);
    await stillServesSockets('after-curl');
  });

  it('sends CORS headers for a listed Origin and refuses any other with 403, then keeps serving', async () => {
    const allowed = await rawRequest(fixture.hub.url, pollingPath(), { headers: { origin: ALLOWED } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
    parseOpenPacket(allowed.body);

    // A browser's preflight (sent when a page adds headers) is answered for the listed origin only.
    const preflight = await rawRequest(fixture.hub.url, pollingPath(), {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');

    const evil = await rawRequest(fixture.hub.url, pollingPath(), { headers: { origin: 'http://evil.test' } });
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(JSON.parse(evil.body)).toMatchObject({ code: 4, message: 'Forbidden' });
    // The websocket transport, which CORS does not bind, is refused for that origin as well.
    // (Engine.IO answers every refused upgrade with 400, naming the reason.)
    const evilUpgrade = await RawWebSocket.open(websocketUrl(fixture.hub.url), { origin: 'http://evil.test' });
    expect(evilUpgrade).toEqual({ refused: 400, body: 'Forbidden' });
    // A malformed Origin is no origin the hub knows.
    expect((await rawRequest(fixture.hub.url, pollingPath(), { headers: { origin: 'not a url' } })).status).toBe(403);
    // The hub's own origin is always welcome, on both transports.
    const own = new URL(fixture.hub.url).origin;
    expect((await rawRequest(fixture.hub.url, pollingPath(), { headers: { origin: own } })).status).toBe(200);
    const ownUpgrade = await RawWebSocket.start(fixture.hub.url, { origin: own });
    ownUpgrade.ws.close();

    // A session opened from the allowed origin works end to end: CONNECT with a token over polling.
    const { accessToken } = await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId: 'polling-origin' });
    const session = await PollingSession.start(fixture.hub.url, { origin: ALLOWED });
    expect(await session.connect({ token: accessToken })).toMatch(/^40\{"sid":/);
    expect((await session.send('1')).status).toBe(200);

    expect(await healthz(fixture.hub.url)).toBe(200);
    await stillServesSockets('after-evil');
  });

  it('connects the stock client with default transports, upgrades to websocket and delivers live updates', async () => {
    const { accessToken } = await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId: 'stock-client' });
    const socket: StockSocket = io(fixture.hub.url, { auth: { token: accessToken }, reconnection: false, forceNew: true, extraHeaders: { origin: ALLOWED } });
    fixture.sockets.push(socket);
    // Polling first (the default), exactly as a browser starts; the upgrade follows the handshake.
    expect(socket.io.engine.transport.name).toBe('polling');
    const upgraded = new Promise<string>((resolve) => socket.io.engine.once('upgrade', (transport: { name: string }) => resolve(transport.name)));
    await connected(socket);
    expect(await upgraded).toBe('websocket');
    expect(socket.io.engine.transport.name).toBe('websocket');

    const received = new Promise<{ eventId: string; type: string }>((resolve) => socket.once('activity:recorded', resolve));
    const posted = await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'lesson.done', userId: 'stock-client' });
    expect(posted.status).toBe(202);
    const update = await received;
    expect(update).toMatchObject({ eventId: posted.body.accepted[0]?.id, type: 'lesson.done' });
    expect(socket.connected).toBe(true);
  });

  it('delivers live updates to a client that stays on long-polling', async () => {
    const { accessToken } = await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId: 'polling-only' });
    const socket: StockSocket = io(fixture.hub.url, { auth: { token: accessToken }, transports: ['polling'], reconnection: false, forceNew: true });
    fixture.sockets.push(socket);
    await connected(socket);
    expect(socket.io.engine.transport.name).toBe('polling');
    const received = new Promise<{ eventId: string }>((resolve) => socket.once('activity:recorded', resolve));
    const posted = await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'lesson.done', userId: 'polling-only' });
    expect((await received).eventId).toBe(posted.body.accepted[0]?.id);
  });
});

describe('a real hub process (as E1 was found)', () => {
  let database: TestDatabase;
  let pulse: PulseProcess | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    if (pulse && pulse.child.exitCode === null) {
      pulse.kill('SIGTERM');
      await pulse.exit();
    }
    await database?.drop();
  });

  it('survives curl "http://HOST/socket.io/?EIO=4&transport=polling" and answers /healthz after it', async () => {
    pulse = PulseProcess.start('hub', await testEnv(database, { LOG_LEVEL: 'info' }));
    const url = await pulse.listeningUrl();
    const first = await rawRequest(url, pollingPath());
    expect(first.status).toBe(200);
    parseOpenPacket(first.body);
    // Also a POST to a session and a GET without one, which Express must not touch either.
    const open = parseOpenPacket((await rawRequest(url, pollingPath())).body);
    expect((await rawRequest(url, pollingPath(open.sid), { method: 'POST', body: '40' })).status).toBe(200);
    expect((await rawRequest(url, pollingPath('no-such-sid'))).status).toBe(400);
    // Give a crash (it used to be an ERR_HTTP_HEADERS_SENT right after the answer) time to show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pulse.child.exitCode).toBeNull();
    expect(await healthz(url)).toBe(200);
    expect(pulse.logs.filter((line) => line.level === 'error')).toEqual([]);
  });
});
