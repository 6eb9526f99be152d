import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Sql, type Transaction } from '../../src/repositories/db/client.js';
import { inUserTransaction, withUserLocks } from '../../src/services/user-locks.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';
import { until } from '../support/until.js';

const USERS = 6;
const CALLS = 60;

/** Changes every user's row in the order given (the caller's order, not the ids'), pausing between rows. */
async function touchInOrder(tx: Transaction, userIds: readonly string[]): Promise<void> {
  for (const [i, id] of userIds.entries()) {
    await tx`update users set display_name = ${`touched-${i}`} where id = ${id}`;
    await tx`select pg_sleep(0.002)`;
  }
}

const shuffled = <T>(values: readonly T[]): T[] => {
  const copy = [...values];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
};

describe('user locks: one lock order for every use case', () => {
  let database: TestDatabase;
  /** Observes the database: statistics, rows. */
  let sql: postgres.Sql;
  let tenantId: string;
  let otherTenantId: string;
  let userIds: string[];

  // A deadlock counted by the backend that hit it reaches pg_stat_database when that backend flushes its
  // statistics: at the latest when it exits, so each scenario ends its own pool before reading the count.
  const deadlocks = async () =>
    Number((await sql<{ deadlocks: string }[]>`select deadlocks from pg_stat_database where datname = ${database.name}`)[0]?.deadlocks ?? 0);
  const withPool = async <T>(max: number, run: (pool: Sql) => Promise<T>): Promise<T> => {
    const pool = connectDatabase(database.url, { max, applicationName: 'user-locks-test' });
    try {
      return await run(pool.sql);
    } finally {
      await pool.close();
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    [tenantId, otherTenantId] = (await sql<{ id: string }[]>`insert into tenants (name) values ('locks'), ('other') returning id`).map((row) => row.id) as [string, string];
    userIds = (
      await sql<{ id: string }[]>`
        insert into users (tenant_id, external_id, timezone) select ${tenantId}, 'u' || n, 'Europe/Paris' from generate_series(1, ${USERS}) n returning id`
    ).map((row) => row.id);
  });

  afterAll(async () => {
    await sql?.end();
    await database?.drop();
  });

  it('answers the locked rows in id order, with the columns asked for, only of the tenant given', async () => {
    const [foreign] = await sql<{ id: string }[]>`insert into users (tenant_id, external_id) values (${otherTenantId}, 'foreign') returning id`;
    const missing = '00000000-0000-4000-8000-000000000000';
    const asked = [...shuffled(userIds), foreign?.id as string, missing, userIds[0] as string];
    await withPool(2, async (pool) => {
      const all = await inUserTransaction(pool, asked, (_tx, locked) => Promise.resolve(locked), { columns: ['timezone', 'last_update_seq'] });
      expect(all.map((user) => user.id)).toEqual([...userIds, foreign?.id as string].sort());
      expect(all.find((user) => user.id === userIds[0])).toEqual({ id: userIds[0], timezone: 'Europe/Paris', last_update_seq: '0' });

      const ofTenant = await inUserTransaction(pool, asked, (_tx, locked) => Promise.resolve(locked), { tenantId });
      expect(ofTenant).toEqual([...userIds].sort().map((id) => ({ id })));
      expect(await inUserTransaction(pool, [], (_tx, locked) => Promise.resolve(locked))).toEqual([]);
    });
  });

  it('holds the locks until the work commits, and rolls the work back when it throws', async () => {
    const [first, second] = userIds as [string, string];
    await withPool(3, async (pool) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const lockedNow = new Promise<void>((resolve) => (locked = resolve));
      const holder = inUserTransaction(pool, [second, first], async () => {
        locked();
        await held;
        return 'done';
      });
      await lockedNow;
      await expect(pool.begin((tx) => tx`select 1 from users where id = ${first} for no key update nowait`)).rejects.toThrow(/could not obtain lock/);
      await expect(pool.begin((tx) => tx`select 1 from users where id = ${second} for no key update nowait`)).rejects.toThrow(/could not obtain lock/);
      // Key-share locks (ingestion's foreign-key checks on a user's row) do not wait.
      await pool.begin((tx) => tx`select 1 from users where id = ${first} for key share nowait`);
      release();
      expect(await holder).toBe('done');

      await expect(
        inUserTransaction(pool, [first], async (tx) => {
          await tx`update users set display_name = 'rolled back' where id = ${first}`;
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');
      const [row] = await sql<{ display_name: string | null }[]>`select display_name from users where id = ${first}`;
      expect(row?.display_name).not.toBe('rolled back');
    });
  });

  it('runs statements given alongside behind the lock, in its round trip', async () => {
    const [first] = userIds as [string];
    await withPool(2, async (pool) => {
      const result = await inUserTransaction(
        pool,
        [first],
        (_tx, locked, along) => Promise.resolve({ locked, along }),
        { columns: ['tenant_id'], alongside: async (tx: Transaction) => (await tx<{ held: boolean }[]>`
            select exists (select 1 from pg_locks l where l.pid = pg_backend_pid() and l.locktype = 'transactionid' and l.mode = 'ExclusiveLock') as held`)[0]?.held },
      );
      expect(result.locked).toEqual([{ id: first, tenant_id: tenantId }]);
      // The row lock (written to the row as the transaction's id) was taken before the statement ran.
      expect(result.along).toBe(true);
    });
  });

  it(`never deadlocks: ${CALLS} concurrent transactions naming the same users in opposite and random orders all complete`, async () => {
    const before = await deadlocks();
    const orders = Array.from({ length: CALLS }, (_, i) => (i % 3 === 0 ? [...userIds] : i % 3 === 1 ? [...userIds].reverse() : shuffled(userIds)));
    const completed = await withPool(20, (pool) =>
      Promise.all(
        orders.map((order) =>
          inUserTransaction(pool, order, async (tx, locked) => {
            expect(locked).toHaveLength(USERS);
            await touchInOrder(tx, order);
            return true;
          }),
        ),
      ),
    );
    expect(completed.filter(Boolean)).toHaveLength(CALLS);
    expect(await deadlocks()).toBe(before);
  });

  it('(control) the same work locking the rows in the caller order deadlocks, and the count shows it', async () => {
    const before = await deadlocks();
    const [first, second] = userIds as [string, string];
    const outcomes = await withPool(4, async (pool) => {
      // Each holds one row, then asks for the other's: Postgres must abort one of them (after deadlock_timeout).
      const inCallerOrder = (order: string[]) =>
        pool.begin(async (tx) => {
          await tx`select 1 from users where id = ${order[0] as string} for no key update`;
          await tx`select pg_sleep(0.2)`;
          await touchInOrder(tx, order);
        });
      return Promise.allSettled([inCallerOrder([first, second]), inCallerOrder([second, first])]);
    });
    expect(outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => String(outcome.reason))).toEqual([
      expect.stringMatching(/deadlock detected/),
    ]);
    await until(deadlocks, (count) => count > before, 10_000);

    // withUserLocks on a transaction of one's own, the helper inUserTransaction uses, keeps the same pair apart.
    const again = await deadlocks();
    await withPool(4, (pool) =>
      Promise.all(
        [
          [first, second],
          [second, first],
        ].map((order) =>
          pool.begin(async (tx) => {
            await withUserLocks(tx, order);
            await tx`select pg_sleep(0.2)`;
            await touchInOrder(tx, order);
          }),
        ),
      ),
    );
    expect(await deadlocks()).toBe(again);
  });
});
