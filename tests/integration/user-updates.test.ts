import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { pruneUserUpdates } from '../../src/repositories/user-updates.js';
import { ACTIVITY_ONLY_RULES } from '../support/engine-rules.js';
import type { CreatedTenant } from '../../src/repositories/tenants.js';
import type { DashboardMetrics } from '../../src/contracts/socket/contracts.js';
import type { UserUpdateMessage } from '../../src/contracts/socket/user-updates.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { connected, openSocket, type TestSocket } from '../support/socket-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import type { TestHub } from '../support/test-env.js';

function collect(socket: TestSocket, count: number, timeoutMs = 15_000): Promise<UserUpdateMessage<'activity:recorded'>[]> {
  const received: UserUpdateMessage<'activity:recorded'>[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${received.length} of ${count} updates`)), timeoutMs);
    socket.on('activity:recorded', (update) => {
      received.push(update);
      if (received.length === count) {
        clearTimeout(timer);
        resolve(received);
      }
    });
  });
}

describe('per-user updates', () => {
  const fixture = useTenantHub('updates', { rules: ACTIVITY_ONLY_RULES });
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  beforeAll(() => ({ hub, tenant, sql } = fixture));
  const { sockets } = fixture;

  /** A connected socket for a user of this file's tenant, closed after the test. */
  async function connectAs(userId: string, role?: 'admin') {
    const tokens = await mintTokens(hub.url, tenant.apiKey, { userId, ...(role ? { role } : {}) });
    const socket = openSocket(hub.url, tokens.accessToken);
    sockets.push(socket);
    await connected(socket);
    return { socket, tokens };
  }

  it('pushes activity:recorded for each ingested event with a seq that grows by exactly one', async () => {
    const { socket } = await connectAs('live');
    const updates = collect(socket, 5);
    const posted = [];
    for (let i = 0; i < 5; i += 1) posted.push(await postEvents(hub.url, tenant.apiKey, { type: 'drill.done', userId: 'live', value: i }));

    const received = await updates;
    expect(received.map((update) => update.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(received.map((update) => update.eventId))).toEqual(new Set(posted.map((post) => post.body.accepted[0]?.id)));
    expect(received.every((update) => update.type === 'drill.done' && !Number.isNaN(Date.parse(update.at)))).toBe(true);

    const sync = await socket.emitWithAck('sync', { after: 2 });
    expect(sync).toMatchObject({ ok: true, seq: 5, complete: true });
    if (sync.ok) {
      expect(sync.updates.map((update) => update.data.seq)).toEqual([3, 4, 5]);
      expect(sync.updates.every((update) => update.event === 'activity:recorded')).toBe(true);
      const bySeq = new Map(received.map((update) => [update.seq, update]));
      for (const update of sync.updates) expect(update.data).toEqual(bySeq.get(update.data.seq));
    }
    expect(await socket.emitWithAck('sync', { after: 5 })).toEqual({ ok: true, updates: [], seq: 5, complete: true });
    expect(await socket.emitWithAck('sync', { after: -1 })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
  });

  it('tells a client that fell behind the retention to reload its snapshot', async () => {
    const { socket, tokens: user } = await connectAs('laggard');
    const updates = collect(socket, 3);
    for (let i = 0; i < 3; i += 1) await postEvents(hub.url, tenant.apiKey, { type: 'drill.done', userId: 'laggard' });
    await updates;

    await sql`update user_updates set created_at = now() - interval '8 days' where user_id = ${user.user.id} and seq <= 2`;
    expect(await pruneUserUpdates(sql, 7)).toBeGreaterThanOrEqual(2);
    expect(await socket.emitWithAck('sync', { after: 0 })).toEqual({ ok: true, updates: [], seq: 3, complete: false });
    const recent = await socket.emitWithAck('sync', { after: 2 });
    expect(recent).toMatchObject({ ok: true, seq: 3, complete: true });
  });

  it('sends an admin dashboard metrics at most once a second that reflect posted events', async () => {
    const [{ socket: adminSocket }, { socket: memberSocket }] = await Promise.all([connectAs('ops', 'admin'), connectAs('watched')]);
    const metrics: DashboardMetrics[] = [];
    adminSocket.on('dashboard:metrics', (snapshot) => metrics.push(snapshot));
    const memberGot: unknown[] = [];
    memberSocket.on('dashboard:metrics', (snapshot) => memberGot.push(snapshot));
    expect(await adminSocket.emitWithAck('subscribe', { room: 'dashboard' })).toMatchObject({ ok: true });

    const firstTick = Date.now();
    while (metrics.length === 0 && Date.now() - firstTick < 5_000) await new Promise((resolve) => setTimeout(resolve, 50));
    const before = metrics.at(-1);
    expect(before).toBeDefined();
    for (let i = 0; i < 3; i += 1) await postEvents(hub.url, tenant.apiKey, { type: 'page.viewed', userId: 'watched' });
    const windowStart = Date.now();
    const countBefore = metrics.length;
    await new Promise((resolve) => setTimeout(resolve, 3_200));

    const during = metrics.slice(countBefore);
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during.length).toBeLessThanOrEqual(Math.ceil((Date.now() - windowStart) / 1000) + 1);
    const latest = metrics.at(-1) as DashboardMetrics;
    expect(latest.eventsToday).toBe((before as DashboardMetrics).eventsToday + 3);
    expect(latest.eventsLastMinute).toBeGreaterThanOrEqual(3);
    expect(latest.connectedUsers).toBeGreaterThanOrEqual(2);
    expect(Object.keys(latest.queues)).toEqual(expect.arrayContaining(['engagement', 'realtime']));
    expect(memberGot).toEqual([]);
  });
});
