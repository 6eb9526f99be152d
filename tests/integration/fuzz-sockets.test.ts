import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../src/server/realtime/socket-server.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { connectPacket, eventPacket, findAck, pollingPath, PollingSession, rawRequest, RawWebSocket, RECORD_SEPARATOR } from '../support/engine-io.js';
import { useActivityOnlyRules } from '../support/engine-rules.js';
import { connected, openSocket, type TestSocket } from '../support/socket-client.js';
import { useTestHub, type TestHub } from '../support/test-env.js';

/**
 * Abuse of the Socket.IO endpoint over both transports (raw long-polling requests and raw
 * websocket frames): bad handshakes, malformed, truncated, oversized, binary and unknown packets,
 * floods. Each must be refused or end its own connection cleanly, while a well-behaved client on
 * each transport keeps receiving its updates and the hub keeps answering /healthz.
 */

const ALLOWED = 'http://allowed.test';
const SEED = 20_261_202;
const OVERSIZED = 'x'.repeat(MAX_SOCKET_PAYLOAD_BYTES + 1);

const tally = { packets: 0, handshakes: 0, healthChecks: 0 };
const crashes: string[] = [];
const onCrash = (error: unknown) => void crashes.push(String(error instanceof Error ? (error.stack ?? error.message) : error));

/** How a connection ended up after abuse: still answering acks, or closed by the server. */
type Outcome = 'alive' | 'closed';

/** One transport's raw Socket.IO connection, driven the same way over both. */
interface RawConnection {
  /** Sends one Engine.IO message (text, or binary where the transport carries it). */
  send(message: string | Buffer): Promise<void>;
  /** Sends the next CONNECT and returns the answer packet, or undefined when the server closed instead. */
  connect(auth?: unknown): Promise<string | undefined>;
  /** Asks for an ack (`subscribe`); alive when it arrives, closed when the server ended the connection. */
  probe(): Promise<Outcome>;
  /** Packets received so far that are not the probe's. */
  received(): string[];
  close(): Promise<void>;
}

type Transport = 'polling' | 'websocket';

let nextAckId = 1;

async function openWebsocket(baseUrl: string): Promise<RawConnection> {
  tally.handshakes += 1;
  const { ws } = await RawWebSocket.start(baseUrl);
  const seen: string[] = [];
  return {
    send(message) {
      tally.packets += 1;
      ws.send(message);
      return Promise.resolve();
    },
    async connect(auth) {
      tally.packets += 1;
      return ws.connect(auth);
    },
    async probe() {
      const ackId = nextAckId++;
      ws.send(eventPacket(ackId, 'subscribe', { room: 'stream:probe' }));
      const answer = await ws.until((message) => {
        if (typeof message === 'string' && message.startsWith(`43${ackId}[`)) return true;
        if (typeof message === 'string') seen.push(message);
        return false;
      });
      if (answer === undefined) return 'closed';
      expect(findAck([answer as string], ackId)).toEqual({ ok: true, room: 'stream:probe' });
      return 'alive';
    },
    received: () => [...seen, ...ws.received.filter((message): message is string => typeof message === 'string')],
    close() {
      ws.close();
      return Promise.resolve();
    },
  };
}

async function openPolling(baseUrl: string): Promise<RawConnection> {
  tally.handshakes += 1;
  const session = await PollingSession.start(baseUrl);
  const seen: string[] = [];
  let closed = false;
  return {
    async send(message) {
      tally.packets += 1;
      // Polling carries binary as a base64 `b` packet; the POST's answer is checked by probe().
      const response = await session.post(typeof message === 'string' ? message : `b${message.toString('base64')}`);
      expect([200, 400]).toContain(response.status);
      if (response.status === 400) closed = true;
    },
    async connect(auth) {
      tally.packets += 1;
      const posted = await session.post(connectPacket(auth));
      if (posted.status === 400) return undefined;
      const response = await session.get(5_000);
      if (response.status === 400) return undefined;
      const packets = response.body.split(RECORD_SEPARATOR);
      const answer = packets.find((packet) => packet.startsWith('40') || packet.startsWith('44'));
      if (answer === undefined) {
        seen.push(...packets);
        // The server closed the session instead: the close packet came, and nothing else may follow.
        expect(packets).toContain('1');
        closed = true;
      }
      return answer;
    },
    async probe() {
      if (closed) return expectUnknown(session);
      const ackId = nextAckId++;
      const posted = await session.post(eventPacket(ackId, 'subscribe', { room: 'stream:probe' }));
      if (posted.status === 400) return expectUnknown(session);
      expect(posted.status).toBe(200);
      for (let polls = 0; polls < 5; polls += 1) {
        const response = await session.get(5_000);
        if (response.status === 400) return 'closed';
        expect(response.status).toBe(200);
        const packets = response.body.split(RECORD_SEPARATOR);
        const ack = findAck(packets, ackId);
        seen.push(...packets.filter((packet) => !packet.startsWith(`43${ackId}[`)));
        if (ack !== undefined) {
          expect(ack).toEqual({ ok: true, room: 'stream:probe' });
          return 'alive';
        }
        // The close packet: the session is over, and the next poll must say so.
        if (packets.includes('1')) return expectUnknown(session);
      }
      throw new Error(`neither an ack nor a close after 5 polls: ${JSON.stringify(seen.slice(-5))}`);
    },
    received: () => seen,
    async close() {
      if (!closed) await session.send('1').catch(() => undefined);
      closed = true;
    },
  };
}

async function expectUnknown(session: PollingSession): Promise<Outcome> {
  const response = await session.get(5_000);
  expect(response.status).toBe(400);
  expect(JSON.parse(response.body)).toMatchObject({ code: 1, message: 'Session ID unknown' });
  return 'closed';
}

const opener: Record<Transport, (baseUrl: string) => Promise<RawConnection>> = { polling: openPolling, websocket: openWebsocket };
const TRANSPORTS: Transport[] = ['polling', 'websocket'];

/** Socket.IO-ish packets: a real type digit or a wrong one, a namespace, an ack id, a payload (often broken). */
const socketIoPacket = fc
  .tuple(
    fc.constantFrom('0', '1', '2', '3', '4', '4', '4', '5', '6', '7', '8', '9', 'b', 'x', ''),
    fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '9', ''),
    fc.constantFrom('', '/', '/admin,', '/x,', '/' + 'n'.repeat(300) + ','),
    fc.option(fc.nat({ max: 2 ** 40 }), { nil: undefined }),
    fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.json({ maxDepth: 3 }).map((json) => json.slice(0, Math.max(0, Math.floor(json.length / 2)))),
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.constantFrom('["subscribe"', '["teleport",{}]', '["sync",{"after":-1}]', '["track"]', '[null]', '[{}]', '{"_placeholder":true,"num":9}', '-["x",{"_placeholder":true,"num":0}]'),
    ),
  )
  .map(([engineType, socketType, namespace, ackId, payload]) => `${engineType}${socketType}${namespace}${ackId ?? ''}${payload}`);

const anyText = fc.string({ unit: 'binary', maxLength: 200 });
const anyBytes = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes));

describe('socket fuzzing and abuse', () => {
  const fixture = useTestHub({
    // Handshake refusals here are the point: keep the per-address auth-failure limit out of the way.
    env: { CORS_ORIGINS: ALLOWED, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000000', SOCKET_MAX_PER_USER: '1000' },
  });
  let hub: TestHub;
  let tenant: CreatedTenant;
  let otherTenant: CreatedTenant;
  let fuzzToken: string;
  const watchers: { transport: Transport; socket: TestSocket; updates: string[] }[] = [];
  let monitor: NodeJS.Timeout | undefined;
  const healthFailures: string[] = [];
  const open: RawConnection[] = [];

  const connection = async (transport: Transport) => {
    const raw = await opener[transport](hub.url);
    open.push(raw);
    return raw;
  };

  /** A connection whose CONNECT with the fuzz user's token was accepted. */
  const authenticated = async (transport: Transport) => {
    const raw = await connection(transport);
    expect(await raw.connect({ token: fuzzToken })).toMatch(/^40\{"sid":/);
    return raw;
  };

  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    hub = fixture.hub;
    tenant = await createTenant(hub.context.database.db, { name: 'fuzz', actor: 'test' });
    otherTenant = await createTenant(hub.context.database.db, { name: 'fuzz-other', actor: 'test' });
    await useActivityOnlyRules(hub.context.database.db, tenant.tenantId);
    fuzzToken = (await mintTokens(hub.url, tenant.apiKey, { userId: 'fuzzer' })).accessToken;

    // The well-behaved clients: the stock client on each transport, as user `watcher`.
    const { accessToken } = await mintTokens(hub.url, tenant.apiKey, { userId: 'watcher' });
    for (const transport of TRANSPORTS) {
      const socket: TestSocket =
        transport === 'websocket'
          ? openSocket(hub.url, accessToken)
          : (io(hub.url, { auth: { token: accessToken }, transports: ['polling'], reconnection: false, forceNew: true }));
      const watcher = { transport, socket, updates: [] as string[] };
      socket.on('activity:recorded', (update) => watcher.updates.push(update.eventId));
      watchers.push(watcher);
      await connected(socket);
    }
    // /healthz, watched all along: every answer must be a 200.
    monitor = setInterval(() => {
      tally.healthChecks += 1;
      rawRequest(hub.url, '/healthz', { timeoutMs: 5_000}).then(
        (response) => void (response.status === 200 || healthFailures.push(`status ${response.status}`)),
        (error: unknown) => void healthFailures.push(String(error)),
      );
    }, 250);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((raw) => raw.close()));
  });

  afterAll(async () => {
    clearInterval(monitor);
    for (const { socket } of watchers) socket.disconnect();
    // Let the polling watcher's goodbye reach the hub before the hub stops.
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    const failures = crashes.length + healthFailures.length;
    process.stdout.write(
      `fuzz-sockets: ${tally.packets} packets / ${tally.handshakes} handshakes over polling + websocket, ${tally.healthChecks} health checks, ${failures} crashes\n`,
    );
    expect(crashes).toEqual([]);
    expect(healthFailures).toEqual([]);
  });

  /** The hub still serves: /healthz, and a fresh update reaches the watcher on each transport. */
  async function expectHubServing() {
    expect((await rawRequest(hub.url, '/healthz')).status).toBe(200);
    const posted = await postEvents(hub.url, tenant.apiKey, { type: 'fuzz.check', userId: 'watcher' });
    expect(posted.status).toBe(202);
    const eventId = posted.body.accepted[0]?.id as string;
    const deadline = Date.now() + 15_000;
    while (!watchers.every((watcher) => watcher.updates.includes(eventId)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const watcher of watchers) {
      expect(watcher.socket.connected, `${watcher.transport} watcher connected`).toBe(true);
      expect(watcher.updates, `${watcher.transport} watcher got ${eventId}`).toContain(eventId);
    }
    expect(crashes).toEqual([]);
  }

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('refuses handshakes with no, garbage, expired, foreign-signed and API-key tokens, saying why', async () => {
      const { JWT_ISSUER: issuer, JWT_SECRET: secret } = hub.config;
      const claims = { tid: tenant.tenantId, role: 'member', fam: randomUUID() };
      const sign = (key: string, expiresAt: number) =>
        new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('fuzzer').setIssuer(issuer).setIssuedAt(expiresAt - 600).setJti(randomUUID()).setExpirationTime(expiresAt).sign(new TextEncoder().encode(key));
      const now = Math.floor(Date.now() / 1000);
      const expired = await sign(secret as string, now - 60);
      const foreign = await sign('another-deployment-secret-0123456789abcdef', now + 600);
      const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'fuzzer', ...claims, iss: issuer, exp: now + 600 })).toString('base64url')}.`;
      const refusals: [unknown, string][] = [
        [undefined, 'unauthorized'],
        [{}, 'unauthorized'],
        [{ token: '' }, 'unauthorized'],
        [{ token: 42 }, 'unauthorized'],
        [{ token: { $ne: null } }, 'unauthorized'],
        [{ token: 'garbage' }, 'unauthorized'],
        [{ token: 'a.b.c' }, 'unauthorized'],
        [{ token: 'x'.repeat(20_000) }, 'unauthorized'],
        [{ token: expired }, 'token_expired'],
        [{ token: foreign }, 'unauthorized'],
        [{ token: unsigned }, 'unauthorized'],
        [{ token: tenant.apiKey }, 'unauthorized'],
      ];
      for (const [auth, code] of refusals) {
        const raw = await connection(transport);
        const answer = await raw.connect(auth);
        expect(answer, JSON.stringify(auth)?.slice(0, 60)).toMatch(/^44\{/);
        expect(JSON.parse((answer as string).slice(2))).toMatchObject({ data: { code } });
        // A refused CONNECT leaves no Socket.IO session: an event on it ends the connection.
        expect(await raw.probe()).toBe('closed');
      }
      await expectHubServing();
    });

    it('keeps another tenant\'s user, even with the same user id, out of this tenant\'s updates', async () => {
      const outsider = await mintTokens(hub.url, otherTenant.apiKey, { userId: 'watcher' });
      const raw = await connection(transport);
      expect(await raw.connect({ token: outsider.accessToken })).toMatch(/^40\{"sid":/);
      await expectHubServing();
      expect(await raw.probe()).toBe('alive');
      expect(raw.received().filter((packet) => packet.includes('activity:recorded'))).toEqual([]);
    });

    it('refuses generated CONNECT auth payloads and tokens', async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 3 }), anyText.map((token) => ({ token }))), async (auth) => {
          const raw = await connection(transport);
          const answer = await raw.connect(auth);
          // An object is a refused handshake; anything else is not a CONNECT payload at all.
          if (typeof auth === 'object' && auth !== null && !Array.isArray(auth)) {
            expect(answer).toMatch(/^44\{/);
            expect(JSON.parse((answer as string).slice(2))).toMatchObject({ data: { code: 'unauthorized' } });
          } else {
            expect(answer).toBeUndefined();
          }
          expect(await raw.probe()).toBe('closed');
          await raw.close();
        }),
        { seed: SEED, numRuns: 80 },
      );
      await expectHubServing();
    });

    it('ends the connection on malformed, truncated, unknown and out-of-order packets', async () => {
      const closing = [
        '9', // unknown Engine.IO packet type
        '49', // unknown Socket.IO packet type
        '4', // empty Socket.IO packet
        '42[', // truncated JSON
        '42["subscribe",{"room":', // truncated mid-event
        '42{"not":"an array"}',
        '42[]',
        '42/admin,["subscribe",{"room":"stream:x"}]', // an event to a namespace never joined
        '40{"token":"again"}', // a second CONNECT to the same namespace
        '40{"token":', // CONNECT with truncated auth JSON
        '4\u0000\u0001\uffff',
      ];
      for (const packet of closing) {
        const raw = await authenticated(transport);
        await raw.send(packet);
        expect(await raw.probe(), JSON.stringify(packet)).toBe('closed');
      }
      // An event before any CONNECT.
      const early = await connection(transport);
      await early.send(eventPacket(1, 'subscribe', { room: 'stream:x' }));
      expect(await early.probe()).toBe('closed');
      // A binary event announcing attachments that do not match what follows.
      const attachments = await authenticated(transport);
      await attachments.send('451-["subscribe",{"_placeholder":true,"num":3}]');
      await attachments.send(Buffer.from([1, 2, 3]));
      expect(await attachments.probe()).toBe('closed');
      // Binary garbage where a text packet was due.
      const binary = await authenticated(transport);
      await binary.send(Buffer.from([0xff, 0x00, 0x34, 0x32, 0x5b]));
      expect(await binary.probe()).toBe('closed');
      await expectHubServing();
    });

    it('answers unknown events and namespaces without dropping the connection', async () => {
      const raw = await authenticated(transport);
      await raw.send('40/admin,');
      await raw.send(eventPacket(7_001, 'teleport', { to: 'mars' }));
      await raw.send(eventPacket(7_002, 'subscribe', { room: 'dashboard' }));
      await raw.send('43999999[{"ok":true}]'); // an ack the server never asked for
      expect(await raw.probe()).toBe('alive');
      const packets = raw.received();
      expect(packets).toContain('44/admin,{"message":"Invalid namespace"}');
      expect(findAck(packets, 7_001)).toMatchObject({ ok: false, error: { code: 'unknown_event' } });
      expect(findAck(packets, 7_002)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      await expectHubServing();
    });

    it('survives generated packets: each connection still answers or was closed by the hub', async () => {
      const outcomes: Record<Outcome, number> = { alive: 0, closed: 0 };
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(socketIoPacket, socketIoPacket, anyText, anyBytes), { minLength: 1, maxLength: 3 }), async (messages) => {
          const raw = await authenticated(transport);
          for (const message of messages) await raw.send(message);
          outcomes[await raw.probe()] += 1;
          await raw.close();
        }),
        { seed: SEED, numRuns: 200 },
      );
      // Both outcomes happen: the generator is neither all noise nor all harmless.
      expect(outcomes.alive).toBeGreaterThan(0);
      expect(outcomes.closed).toBeGreaterThan(0);
      await expectHubServing();
    });

    it('disconnects a client that floods events, while others keep their updates', async () => {
      const raw = await authenticated(transport);
      const started = Date.now();
      const flood = Array.from({ length: 400 }, () => eventPacket(nextAckId++, 'subscribe', { room: 'stream:flood' }));
      if (transport === 'websocket') {
        for (const packet of flood) await raw.send(packet);
      } else {
        // Long-polling carries a batch per request: 8 requests of 50 packets.
        for (let i = 0; i < flood.length; i += 50) await raw.send(flood.slice(i, i + 50).join(RECORD_SEPARATOR));
      }
      await expectHubServing();
      const deadline = Date.now() + 15_000;
      let outcome: Outcome = 'alive';
      // Refusals past the abuse threshold end the connection: keep asking until it is.
      while (outcome === 'alive' && Date.now() < deadline) outcome = await raw.probe();
      expect(outcome).toBe('closed');
      const seconds = Math.ceil((Date.now() - started) / 1000);
      const packets = raw.received();
      // The hub ended the namespace (DISCONNECT) rather than just dropping the transport.
      expect(packets).toContain('41');
      // No more events were served than the burst plus the sustained rate allow; every answer is an ack.
      const { SOCKET_EVENTS_BURST: burst, SOCKET_EVENTS_PER_SECOND: perSecond } = hub.config;
      const served = packets.filter((packet) => packet.startsWith('43') && packet.includes('"ok":true'));
      expect(served.length).toBeGreaterThan(0);
      expect(served.length).toBeLessThanOrEqual(burst + perSecond * seconds);
      const refused = packets.filter((packet) => packet.startsWith('43') && !packet.includes('"ok":true'));
      expect(refused.every((packet) => packet.includes('"code":"rate_limited"'))).toBe(true);
      await expectHubServing();
    });
  });

  it('refuses oversized payloads on both transports', async () => {
    // Over a websocket: closed with 1009 (message too big), before the payload is parsed.
    const { ws } = await RawWebSocket.start(hub.url);
    tally.handshakes += 1;
    expect(await ws.connect({ token: fuzzToken })).toMatch(/^40\{"sid":/);
    ws.send(`42${JSON.stringify(['subscribe', { room: OVERSIZED }])}`);
    tally.packets += 2;
    expect((await ws.closedWithin()).code).toBe(1009);

    const session = await PollingSession.start(hub.url);
    tally.handshakes += 1;
    const tooBig = await session.post(`42${JSON.stringify(['subscribe', { room: OVERSIZED }])}`);
    expect(tooBig.status).toBe(413);
    const chunked = await session.post(OVERSIZED, { chunked: true });
    expect(chunked.status).toBe(413);
    tally.packets += 2;
    // Engine.IO v4 polling refuses binary bodies, and ends the session.
    const binaryBody = await session.post(Buffer.from([1, 2, 3]), { headers: { 'content-type': 'application/octet-stream' } });
    expect(binaryBody.status).toBe(400);
    expect(await session.isClosed()).toBe(true);
    await expectHubServing();
  });

  it('refuses polling requests with an unknown sid, a bad body, a bad protocol or overlapping polls', async () => {
    const unknownGet = await rawRequest(hub.url, pollingPath('not-a-session'));
    expect(unknownGet.status).toBe(400);
    expect(JSON.parse(unknownGet.body)).toEqual({ code: 1, message: 'Session ID unknown' });
    const unknownPost = await rawRequest(hub.url, pollingPath('not-a-session'), { method: 'POST', body: '40' });
    expect(unknownPost.status).toBe(400);
    const eio3 = await rawRequest(hub.url, pollingPath(undefined, 'EIO=3&transport=polling'));
    expect(eio3.status).toBe(400);
    const unknownTransport = await rawRequest(hub.url, pollingPath(undefined, 'EIO=4&transport=carrier-pigeon'));
    expect(JSON.parse(unknownTransport.body)).toEqual({ code: 0, message: 'Transport unknown' });
    const put = await rawRequest(hub.url, pollingPath(), { method: 'PUT', body: '40' });
    expect(put.status).toBe(400);
    tally.packets += 5;

    // A body that is no Engine.IO payload: accepted as a request, then the session is over.
    const garbled = await PollingSession.start(hub.url);
    tally.handshakes += 1;
    expect((await garbled.post('\u0000\u00ff garbage')).status).toBe(200);
    tally.packets += 1;
    expect(await garbled.isClosed()).toBe(true);

    // Two GETs at once: the second is refused and the session ends.
    const overlapping = await PollingSession.start(hub.url);
    tally.handshakes += 1;
    const [first, second] = await Promise.all([overlapping.get(), new Promise((resolve) => setTimeout(resolve, 100)).then(() => overlapping.get())]);
    expect([first.status, second.status].sort()).toEqual([200, 400]);
    expect(await overlapping.isClosed()).toBe(true);
    await expectHubServing();
  });
});
