import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/repositories/db/client.js';
import { useActivityOnlyRules } from '../support/engine-rules.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import type { UserUpdateMessage } from '../../src/contracts/socket/user-updates.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { PulseProcess } from '../support/pulse-process.js';
import { connected, openSocket, type TestSocket } from '../support/socket-client.js';
import { createTestDatabase, testEnv, type TestDatabase } from '../support/test-env.js';

/** Two hub processes and one worker process on the same Postgres and Redis, as in production. */
describe('multi-node delivery', () => {
  let database: TestDatabase;
  let processes: PulseProcess[] = [];
  let hub1: string;
  let hub2: string;
  let hub1Process: PulseProcess;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = await testEnv(database, { LOG_LEVEL: 'info' });
    hub1Process = PulseProcess.start('hub', env);
    const hub2Process = PulseProcess.start('hub', env);
    processes = [hub1Process, hub2Process, PulseProcess.start('worker', env)];
    [hub1, hub2] = await Promise.all([hub1Process.listeningUrl(), hub2Process.listeningUrl()]);
    await processes[2]?.waitForLog((line) => line.message === 'workers started');
    const handle = connectDatabase(database.url, { max: 1, applicationName: 'test' });
    tenant = await createTenant(handle.db, { name: 'multi-node', actor: 'test' });
    await useActivityOnlyRules(handle.db, tenant.tenantId);
    await handle.close();
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
  });

  afterAll(async () => {
    for (const pulse of processes) if (pulse.child.exitCode === null) pulse.kill('SIGKILL');
    await sql?.end();
    await database?.drop();
  });

  const latestSeq = async (userId: string) => Number((await sql<{ seq: string }[]>`select last_update_seq as seq from users where id = ${userId}`)[0]?.seq);

  it('delivers an event posted through hub 2 to a client on hub 1, and recovers updates missed while hub 1 died', async () => {
    const tokens = await mintTokens(hub2, tenant.apiKey, { userId: 'roamer' });
    const seen: number[] = [];
    const record = (socket: TestSocket) => socket.on('activity:recorded', (update: UserUpdateMessage<'activity:recorded'>) => seen.push(update.seq));

    const onHub1 = openSocket(hub1, tokens.accessToken);
    record(onHub1);
    await connected(onHub1);
    const first = new Promise<void>((resolve) => onHub1.once('activity:recorded', () => resolve()));
    expect((await postEvents(hub2, tenant.apiKey, { type: 'ride.started', userId: 'roamer' })).status).toBe(202);
    await first;
    expect(seen).toEqual([1]);

    hub1Process.kill('SIGKILL');
    await new Promise<void>((resolve) => onHub1.once('disconnect', () => resolve()));
    onHub1.close();
    for (let i = 0; i < 3; i += 1) expect((await postEvents(hub2, tenant.apiKey, { type: 'ride.progress', userId: 'roamer', value: i })).status).toBe(202);
    const deadline = Date.now() + 20_000;
    while ((await latestSeq(tokens.user.id)) < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));

    const onHub2 = openSocket(hub2, tokens.accessToken);
    record(onHub2);
    await connected(onHub2);
    const lastSeen = Math.max(...seen);
    const sync = await onHub2.emitWithAck('sync', { after: lastSeen });
    expect(sync).toMatchObject({ ok: true, seq: 4, complete: true });
    if (!sync.ok) return;
    expect(sync.updates.map((update) => update.data.seq)).toEqual([2, 3, 4]);
    // A delivery already in flight when the client reconnected may also arrive live: a client keeps each seq once.
    for (const update of sync.updates) if (!seen.includes(update.data.seq)) seen.push(update.data.seq);

    const live = new Promise<void>((resolve) => onHub2.once('activity:recorded', () => resolve()));
    await postEvents(hub2, tenant.apiKey, { type: 'ride.finished', userId: 'roamer' });
    await live;
    onHub2.close();
    // Every seq exactly once, in order: nothing lost across the crash, nothing doubled.
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });
});
