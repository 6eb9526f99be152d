import { afterEach, describe, expect, it } from 'vitest';
import { createPulseClient, type PulseClient, type PulseClientOptions } from '../../src/client/index.js';
import { ACTIVITY_ONLY_RULES } from '../support/engine-rules.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { until as untilValue } from '../support/until.js';

const until = (condition: () => boolean | Promise<boolean>) => untilValue(condition, Boolean, 15_000);

describe('createPulseClient', () => {
  const fixture = useTenantHub('sdk', { rules: ACTIVITY_ONLY_RULES });
  const clients: PulseClient[] = [];
  const client = (userId: string, extra: Partial<PulseClientOptions> = {}) => {
    const created = createPulseClient({
      baseUrl: fixture.hub.url,
      getToken: async () => (await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId })).accessToken,
      ...extra,
    });
    clients.push(created);
    return created;
  };

  afterEach(() => {
    for (const created of clients.splice(0)) created.close();
  });

  it("starts at the user's latest seq and delivers each update once, in order, across a reconnect", async () => {
    await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'old.news', userId: 'sdk-user' });
    const { sql } = fixture;
    await until(async () => (await sql`select 1 from user_updates u join users s on s.id = u.user_id where s.external_id = 'sdk-user'`).length === 1);

    const pulse = client('sdk-user');
    const seqs: number[] = [];
    pulse.on('activity:recorded', (update) => seqs.push(update.seq));
    await until(() => pulse.lastSeq !== undefined);
    expect(pulse.lastSeq).toBe(1);

    await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'new.news', userId: 'sdk-user' });
    await until(() => seqs.length === 1);

    // A deliberate disconnect is never recovered by Socket.IO: the client must sync.
    pulse.socket.disconnect();
    for (let i = 0; i < 3; i += 1) await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'while.away', userId: 'sdk-user' });
    await until(async () => Number((await sql`select last_update_seq from users where external_id = 'sdk-user'`)[0]?.last_update_seq) === 5);
    pulse.socket.connect();
    await until(() => seqs.length === 4);
    await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'back.again', userId: 'sdk-user' });
    await until(() => seqs.length === 5);
    expect(seqs).toEqual([2, 3, 4, 5, 6]);
    expect(pulse.lastSeq).toBe(6);
  });

  it('tracks events and joins stream rooms through the same socket', async () => {
    const pulse = client('sdk-tracker');
    await until(() => pulse.lastSeq !== undefined);
    const accepted = await pulse.track({ type: 'sdk.tracked', idempotencyKey: 'once' });
    expect((await pulse.track({ type: 'sdk.tracked', idempotencyKey: 'once' })).id).toBe(accepted.id);
    await pulse.subscribe('stream:sdk');
    await expect(pulse.subscribe('dashboard')).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('reloads the snapshot when the updates it missed are gone', async () => {
    const loads: number[] = [];
    const pulse = client('sdk-stale', {
      initialSeq: 0,
      loadSnapshot: () => {
        loads.push(Date.now());
        return Promise.resolve(42);
      },
    });
    await until(() => pulse.socket.connected && pulse.lastSeq === 0);
    pulse.socket.disconnect();
    await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'a', userId: 'sdk-stale' });
    await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'b', userId: 'sdk-stale' });
    const { sql } = fixture;
    await until(async () => (await sql`select 1 from user_updates u join users s on s.id = u.user_id where s.external_id = 'sdk-stale'`).length === 2);
    await sql`delete from user_updates using users where users.id = user_updates.user_id and users.external_id = 'sdk-stale' and seq = 1`;
    pulse.socket.connect();
    await until(() => loads.length > 0);
    expect(pulse.lastSeq).toBe(42);
  });
});

describe('createPulseClient token refresh', () => {
  const fixture = useTenantHub('sdk-refresh', { role: 'hub', env: { ACCESS_TOKEN_TTL_SECONDS: '3' } });

  it('replaces the token before it expires, so the socket outlives several tokens', async () => {
    let minted = 0;
    const disconnects: string[] = [];
    const pulse = createPulseClient({
      baseUrl: fixture.hub.url,
      refreshBeforeMs: 1_500,
      getToken: async () => {
        minted += 1;
        return (await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId: 'long-lived' })).accessToken;
      },
    });
    pulse.on('disconnected', ({ reason }) => disconnects.push(reason));
    try {
      await until(() => pulse.socket.connected);
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(pulse.socket.connected).toBe(true);
      expect(disconnects).toEqual([]);
      expect(minted).toBeGreaterThanOrEqual(3);
      await pulse.subscribe('stream:still-authorised');
    } finally {
      pulse.close();
    }
  });
});
