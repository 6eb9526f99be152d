import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FUSION_RULE, type FusedSignal } from '../../src/contracts/api/signals.js';
import type { UserState } from '../../src/contracts/api/state.js';
import type { UserUpdateMessage } from '../../src/contracts/socket/user-updates.js';
import { createTenant } from '../../src/repositories/tenants.js';
import { apiJson, mintTokens } from '../support/api-client.js';
import { ACTIVITY_ONLY_RULES } from '../support/engine-rules.js';
import { connected, openSocket } from '../support/socket-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { until } from '../support/until.js';

/** Readings of `room.temperature` must be in celsius; every other key takes the default rule. */
const RULES = {
  ...ACTIVITY_ONLY_RULES,
  signals: { default: DEFAULT_FUSION_RULE, keys: { 'room.temperature': { ...DEFAULT_FUSION_RULE, unit: 'celsius' } } },
};

type Fused = FusedSignal | UserUpdateMessage<'signal:fused'>;

describe('signals and fusion', () => {
  const fixture = useTenantHub('signals', { rules: RULES, env: { FUSION_MIN_INTERVAL_MS: '250' } });
  let url: string;
  let apiKey: string;
  beforeAll(() => {
    url = fixture.hub.url;
    apiKey = fixture.tenant.apiKey;
  });

  const post = (body: unknown, token = apiKey) => apiJson<{ accepted?: { id: string; duplicate: boolean }[]; errors?: { path: string }[] }>(url, 'POST', '/api/v1/signals', { token, body });

  async function socketFor(userId: string, key: string, options: { tenantApiKey?: string; room?: string } = {}) {
    const tokens = await mintTokens(url, options.tenantApiKey ?? apiKey, { userId });
    const socket = openSocket(url, tokens.accessToken);
    fixture.sockets.push(socket);
    await connected(socket);
    const received: Fused[] = [];
    socket.on('signal:fused', (signal) => {
      if (signal.key === key) received.push(signal);
    });
    if (options.room !== undefined) expect(await socket.emitWithAck('subscribe', { room: options.room })).toEqual({ ok: true, room: options.room });
    return { socket, received, tokens };
  }

  it('fuses three sources of a tenant-wide signal and pushes the value, band and contributions to its subscribers', async () => {
    const key = 'room.temperature';
    const { received } = await socketFor('watcher', key, { room: `signal:${key}` });
    const observedAt = new Date().toISOString();
    const answer = await post({
      signals: [
        { key, source: 'sensor:a', value: 10, sigma: 1, unit: 'celsius', observedAt },
        { key, source: 'sensor:b', value: 12, sigma: 2, unit: 'celsius', observedAt },
        { key, source: 'sensor:c', value: 14, sigma: 2, observedAt },
      ],
    });
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toHaveLength(3);

    await until(() => received.length > 0, Boolean, 15_000);
    const fused = received.at(-1) as FusedSignal;
    // Inverse variance, equal ages (so the age inflation scales every weight alike): weights 1, 1/4, 1/4 →
    // value (10 + 12/4 + 14/4) / 1.5 = 11, contributions 66.7 %, 16.7 %, 16.7 %, sigma ≈ √(1/1.5) = 0.8165 (a little more with age).
    expect(fused.value).toBeCloseTo(11, 9);
    expect(fused.sigma).toBeGreaterThanOrEqual(Math.sqrt(1 / 1.5));
    expect(fused.sigma).toBeLessThan(Math.sqrt(1 / 1.5) * 1.05);
    expect(fused.ci95[0]).toBeCloseTo(fused.value - 1.96 * fused.sigma, 9);
    expect(fused.ci95[1]).toBeCloseTo(fused.value + 1.96 * fused.sigma, 9);
    expect(fused).toMatchObject({ key, userId: null, unit: 'celsius', method: 'inverse_variance' });
    expect(fused.inputs.map((input) => [input.source, Number(input.contributionPct.toFixed(1))])).toEqual([
      ['sensor:a', 66.7],
      ['sensor:b', 16.7],
      ['sensor:c', 16.7],
    ]);
    expect('seq' in fused).toBe(false);

    const latest = await apiJson<FusedSignal>(url, 'GET', `/api/v1/signals/${key}`, { token: apiKey });
    expect(latest.status).toBe(200);
    expect(latest.body.value).toBeCloseTo(11, 9);
    const list = await apiJson<{ signals: FusedSignal[] }>(url, 'GET', '/api/v1/signals', { token: apiKey });
    expect(list.body.signals.map((signal) => signal.key)).toContain(key);
    const history = await apiJson<{ points: { value: number }[]; step: number }>(url, 'GET', `/api/v1/signals/${key}/history?step=10`, { token: apiKey });
    expect(history.status).toBe(200);
    expect(history.body.points.at(-1)?.value).toBeCloseTo(11, 9);
  });

  it('coalesces a burst of 1,000 readings into far fewer fused results, the last of which reflects every source', async () => {
    const key = 'burst.level';
    const { received } = await socketFor('burst-watcher', key, { room: `signal:${key}` });
    const sources = ['s1', 's2', 's3', 's4'];
    const last = new Map<string, number>();
    const started = Date.now();
    for (let batch = 0; batch < 10; batch += 1) {
      const signals = Array.from({ length: 100 }, (_, i) => {
        const n = batch * 100 + i;
        const source = sources[n % sources.length] as string;
        const value = 50 + (n % 7);
        last.set(source, value);
        return { key, source, value, sigma: 1, observedAt: new Date(started + n).toISOString() };
      });
      expect((await post({ signals })).status).toBe(202);
    }
    const expected = [...last.values()].reduce((sum, value) => sum + value, 0) / last.size;
    // Equal sigmas and (nearly) equal ages: the fused value is the mean of each source's last reading.
    await until(() => received.some((signal) => Math.abs(signal.value - expected) < 1e-3 && signal.inputs.length === sources.length), Boolean, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(100);
    const final = received.at(-1) as FusedSignal;
    expect(final.value).toBeCloseTo(expected, 3);
    expect(final.inputs.map((input) => input.value).sort()).toEqual([...last.values()].sort());
    const computed = received.map((signal) => Date.parse(signal.computedAt));
    for (let i = 1; i < computed.length; i += 1) expect((computed[i] as number) - (computed[i - 1] as number)).toBeGreaterThanOrEqual(240);
  });

  it("delivers a user's own signal as a per-user update in seq order, recoverable with sync and in the state", async () => {
    const key = 'heart.rate';
    const { socket, received, tokens } = await socketFor('runner', key);
    for (const value of [70, 72, 75]) {
      expect((await post({ key, source: 'watch', value, sigma: 2, userId: 'runner', unit: 'bpm' })).status).toBe(202);
      await until(() => received.some((signal) => signal.value === value), Boolean, 15_000);
    }
    const updates = received as UserUpdateMessage<'signal:fused'>[];
    const seqs = updates.map((update) => update.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(updates.every((update) => update.userId === 'runner')).toBe(true);

    const sync = await socket.emitWithAck('sync', { after: 0 });
    expect(sync.ok).toBe(true);
    if (sync.ok) {
      const fusedUpdates = sync.updates.filter((update) => update.event === 'signal:fused');
      expect(fusedUpdates.map((update) => update.data.seq)).toEqual(seqs);
      expect(fusedUpdates.at(-1)?.data).toMatchObject({ key, value: 75 });
    }
    const state = await apiJson<UserState>(url, 'GET', '/api/v1/me/state', { token: tokens.accessToken });
    expect(state.body.signals).toEqual([expect.objectContaining({ key, userId: 'runner', value: 75, unit: 'bpm' })]);
    // Tenant-wide readers do not see it, and a member may not read another user's.
    const tenantWide = await apiJson<{ signals: FusedSignal[] }>(url, 'GET', '/api/v1/signals', { token: apiKey });
    expect(tenantWide.body.signals.map((signal) => signal.key)).not.toContain(key);
    const other = await mintTokens(url, apiKey, { userId: 'nosy' });
    expect((await apiJson(url, 'GET', '/api/v1/signals?userId=runner', { token: other.accessToken })).status).toBe(403);
  });

  it('refuses a reading in another unit, and bad readings, listing every bad item; a member may not post', async () => {
    const wrongUnit = await post({ signals: [{ key: 'room.temperature', source: 'a', value: 70, unit: 'fahrenheit' }, { key: 'room.temperature', source: 'b', value: 21, unit: 'celsius' }] });
    expect(wrongUnit.status).toBe(400);
    expect(wrongUnit.body.errors?.map((error) => error.path)).toEqual(['signals.0.unit']);
    const bad = await post({ signals: [{ key: 'Bad Key', source: 'a', value: 1 }, { key: 'ok.key', source: 'b', value: 'x' }, { key: 'ok.key', source: 'c', value: 1, sigma: -1 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.map((error) => error.path).sort()).toEqual(['signals.0.key', 'signals.1.value', 'signals.2.sigma']);
    const member = await mintTokens(url, apiKey, { userId: 'member' });
    expect((await post({ key: 'ok.key', source: 'a', value: 1 }, member.accessToken)).status).toBe(403);
    expect((await apiJson(url, 'POST', '/api/v1/signals', { body: { key: 'ok.key', source: 'a', value: 1 } })).status).toBe(401);
    const stored = await fixture.sql`select count(*)::int as n from signal_readings where tenant_id = ${fixture.tenant.tenantId} and key = 'room.temperature' and source in ('a', 'b')`;
    expect(stored[0]?.n).toBe(0);
  });

  it("refuses with 409 a reading for a new user of a tenant deleted since the admin's token was minted", async () => {
    const doomed = await createTenant(fixture.hub.context.database.db, { name: 'signals-doomed', actor: 'test' });
    const admin = await mintTokens(url, doomed.apiKey, { userId: 'doomed-admin', role: 'admin' });
    await fixture.sql`delete from tenants where id = ${doomed.tenantId}`;
    expect((await post({ key: 'heart.rate', source: 'watch', value: 60, userId: 'newcomer' }, admin.accessToken)).status).toBe(409);
  });

  it('accepts a reading once per idempotency key', async () => {
    const reading = { key: 'once.only', source: 'a', value: 5, idempotencyKey: 'once-1' };
    const first = await post(reading);
    const again = await post({ signals: [reading, reading] });
    expect(first.body.accepted?.[0]?.duplicate).toBe(false);
    expect(again.body.accepted?.map((accepted) => [accepted.id, accepted.duplicate])).toEqual([
      [first.body.accepted?.[0]?.id, true],
      [first.body.accepted?.[0]?.id, true],
    ]);
  });

  it("sends nothing to another tenant's subscriber of the same key", async () => {
    const key = 'shared.name';
    const other = await createTenant(fixture.hub.context.database.db, { name: 'signals-other', actor: 'test' });
    const outsider = await socketFor('outsider', key, { tenantApiKey: other.apiKey, room: `signal:${key}` });
    const insider = await socketFor('insider', key, { room: `signal:${key}` });
    expect((await post({ key, source: 'a', value: 3 })).status).toBe(202);
    await until(() => insider.received.length > 0, Boolean, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(outsider.received).toEqual([]);
  });
});


