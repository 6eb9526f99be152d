import { pgArrayType, type Sql, type Transaction } from '../repositories/db/client.js';
import type { SqlPick } from '../repositories/db/rows.js';
import type { users } from '../repositories/db/schema.js';

/**
 * The one lock order of every use case that changes a user's state: the users' rows first, in id
 * order, then anything else (their streaks, missions, boxes, rewards, updates). Two transactions
 * that share users then wait for each other at the users' rows and never hold one lock while
 * waiting for another the other holds, so they cannot deadlock, whichever order their callers
 * named the users in.
 *
 * NO KEY UPDATE: exclusive against the other use cases, but not against the key-share locks
 * ingestion takes on a user's row while it inserts the user's next events.
 */

/** The columns of `users` a lock can return, as postgres.js hands them over (timestamps and bigints as text). */
export type UserLockColumns = SqlPick<typeof users, 'id' | 'tenant_id' | 'external_id' | 'timezone' | 'previous_timezone' | 'timezone_changed_at' | 'last_update_seq'>;

export type UserLockColumn = keyof UserLockColumns;

/** A locked user's row: its id and the columns asked for. */
export type LockedUser<C extends UserLockColumn = 'id'> = Pick<UserLockColumns, C | 'id'>;

export interface UserLockOptions<C extends UserLockColumn> {
  /** Columns to return with each row's id (read under the lock). */
  columns?: readonly C[];
  /** Only users of this tenant are locked (and returned); the others are as if they did not exist. */
  tenantId?: string;
}

/**
 * Locks the users' rows in id order (`for no key update`) and returns them, in id order; users that
 * do not exist (or are not of `options.tenantId`) are missing from the answer. Must be the
 * transaction's first statement that touches user state: prefer `inUserTransaction`, which makes
 * it so.
 *
 * The lock statement is issued before this function first yields, so statements the caller issues
 * on the same transaction right after calling it (without awaiting) still run after the locks are
 * held: one connection runs a transaction's statements in order.
 */
export function withUserLocks<C extends UserLockColumn = 'id'>(tx: Transaction, userIds: readonly string[], options: UserLockOptions<C> = {}): Promise<LockedUser<C>[]> {
  const ids = [...new Set(userIds)].sort();
  if (ids.length === 0) return Promise.resolve([]);
  const columns = ['id', ...(options.columns ?? []).filter((column) => column !== 'id')];
  const idArray = tx.array(ids, pgArrayType.uuid);
  const query =
    options.tenantId === undefined
      ? tx<LockedUser<C>[]>`
          select ${tx(columns)} from users where id = any(${idArray}::uuid[]) order by id for no key update`
      : tx<LockedUser<C>[]>`
          select ${tx(columns)} from users where id = any(${idArray}::uuid[]) and tenant_id = ${options.tenantId} order by id for no key update`;
  // postgres.js sends a query once it is awaited (then): send it now, ahead of anything the caller issues next.
  return query.then((rows) => [...rows]);
}

export interface UserTransactionOptions<C extends UserLockColumn, P> extends UserLockOptions<C> {
  /**
   * Statements sent right behind the lock, in the same round trip (they do not need its rows). They
   * run after it, so they may change the users' state; their result is `work`'s third argument.
   */
  alongside?: (tx: Transaction) => Promise<P>;
}

/**
 * Runs a use case that changes users' state: opens the transaction, locks the users' rows in id
 * order (`withUserLocks`), then runs `work` with the locked rows; commits what `work` did and
 * answers its result, or rolls back if it throws. The lock comes first whatever `work` does.
 */
export async function inUserTransaction<T, C extends UserLockColumn = 'id', P = undefined>(
  sql: Sql,
  userIds: readonly string[],
  work: (tx: Transaction, locked: LockedUser<C>[], alongside: P) => Promise<T>,
  options: UserTransactionOptions<C, P> = {},
): Promise<T> {
  const { alongside, ...lockOptions } = options;
  const result = await sql.begin(async (tx) => {
    const locking = withUserLocks(tx, userIds, lockOptions);
    // allSettled: both statements finish (the transaction is aborted after any error) before the rollback is sent.
    const [locked, along] = await Promise.allSettled([locking, alongside ? alongside(tx) : Promise.resolve(undefined as P)]);
    if (locked.status === 'rejected') throw locked.reason;
    if (along.status === 'rejected') throw along.reason;
    return { value: await work(tx, locked.value, along.value) };
  });
  // Wrapped: `begin` types its answer as UnwrapPromiseArray<T>, which a generic T does not narrow back to T.
  return result.value;
}
