import { describe, expect, it } from 'vitest';
import { rooms, tenantOfRoom, type DashboardMetrics } from '../../src/contracts/socket/contracts.js';
import { createPusher } from '../../src/server/realtime/push.js';
import type { PulseServer, PulseSocket } from '../../src/server/realtime/types.js';

const tenantId = '0190a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b';

/** Records which operator each emit went through: `local`/`volatile` flags and the room. */
function recordingServer() {
  const sent: { room: string; local: boolean; volatile: boolean; event: string; payload: unknown }[] = [];
  const operator = (room: string, local: boolean, volatile = false): object => ({
    get volatile() {
      return operator(room, local, true);
    },
    emit: (event: string, payload: unknown) => sent.push({ room, local, volatile, event, payload }),
  });
  const io = { to: (room: string) => operator(room, false), local: { to: (room: string) => operator(room, true) } };
  return { io: io as unknown as PulseServer, sent };
}

const metrics: DashboardMetrics = {
  at: '2026-01-01T00:00:00.000Z', connectedUsers: 1, eventsLastMinute: 2, eventsToday: 3, queues: {}, latestEvents: [], campaigns: [],
  feeds: { recomputesLastMinute: 0, medianRecomputeMs: null, pushesLastMinute: 0, heldByQuietHoursLastMinute: 0, heldByBudgetLastMinute: 0 },
  backups: {
    lastBackupAt: null, lastBackupFile: null, lastBackupBytes: null, lastVerifiedAt: null, lastVerificationMs: null, lastResult: null, lastReason: null, lastFinishedAt: null, nextRunAt: null,
  },
};

describe('createPusher', () => {
  it('sends to the rooms the contract names, with the options asked for', () => {
    const { io, sent } = recordingServer();
    const pusher = createPusher(io);
    pusher.toUser('u1', 'streak:at_risk', { key: 'daily', current: 3, day: '2026-01-01', freezes: 0, seq: 1, at: 'now' });
    pusher.toStream(tenantId, 'stream:news', 'stream:message', { stream: 'stream:news', data: { a: 1 }, at: 'now' });
    pusher.toDashboard(tenantId, 'dashboard:metrics', metrics, { local: true, volatile: true });
    pusher.toAllDashboards('backup:status', metrics.backups);
    expect(sent).toEqual([
      { room: rooms.user('u1'), local: false, volatile: false, event: 'streak:at_risk', payload: expect.objectContaining({ seq: 1 }) },
      { room: rooms.stream(tenantId, 'stream:news'), local: false, volatile: false, event: 'stream:message', payload: expect.objectContaining({ data: { a: 1 } }) },
      { room: rooms.dashboard(tenantId), local: true, volatile: true, event: 'dashboard:metrics', payload: metrics },
      { room: rooms.allDashboards(), local: false, volatile: false, event: 'backup:status', payload: metrics.backups },
    ]);
  });

  it('sends to one socket', () => {
    const sent: unknown[] = [];
    const socket = { emit: (...args: unknown[]) => sent.push(args) } as unknown as PulseSocket;
    createPusher(recordingServer().io).toSocket(socket, 'session:expired', { reason: 'token_expired' });
    expect(sent).toEqual([['session:expired', { reason: 'token_expired' }]]);
  });

  it('refuses, at typecheck, a payload that is not the event’s or an event the contract does not name', () => {
    const pusher = createPusher(recordingServer().io);
    // @ts-expect-error -- the reason is one of two words
    pusher.toSocket({ emit: () => true } as unknown as PulseSocket, 'session:expired', { reason: 'bored' });
    // @ts-expect-error -- dashboard metrics are not a stream message
    pusher.toStream(tenantId, 'stream:news', 'stream:message', metrics);
    // @ts-expect-error -- no such event in ServerToClientEvents
    pusher.toUser('u1', 'user:poked', {});
  });
});

describe('tenantOfRoom', () => {
  it('reads the tenant back from names the rooms helpers built, and nothing else', () => {
    expect(tenantOfRoom('dashboard', rooms.dashboard(tenantId))).toBe(tenantId);
    expect(tenantOfRoom('tenant', rooms.tenant(tenantId))).toBe(tenantId);
    expect(tenantOfRoom('tenant', rooms.dashboard(tenantId))).toBeUndefined();
    expect(tenantOfRoom('dashboard', rooms.tenant(tenantId))).toBeUndefined();
    expect(tenantOfRoom('dashboard', rooms.stream(tenantId, 'stream:dashboard'))).toBeUndefined();
    expect(tenantOfRoom('tenant', rooms.user(tenantId))).toBeUndefined();
    expect(tenantOfRoom('tenant', rooms.allDashboards())).toBeUndefined();
    expect(tenantOfRoom('dashboard', rooms.allDashboards())).toBeUndefined();
  });
});
