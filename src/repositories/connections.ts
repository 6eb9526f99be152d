import { and, asc, desc, eq, getTableColumns, gt, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { ConnectionStatus, CredentialKind } from '../contracts/api/connections.js';
import { recordAudit } from './audit.js';
import type { Database } from './db/client.js';
import { connectionCredentials, connections, oauthStates, syncedRecords } from './db/schema.js';

export type ConnectionRow = typeof connections.$inferSelect;
export type NewConnection = Omit<typeof connections.$inferInsert, 'id' | 'tenantId' | 'createdAt' | 'updatedAt'>;
export type CredentialRow = typeof connectionCredentials.$inferSelect;
export type OAuthStateRow = typeof oauthStates.$inferSelect;

/** A sealed credential to store: the envelope and the key that sealed it. */
export interface SealedCredential {
  kind: CredentialKind;
  keyId: string;
  sealed: string;
  expiresAt: Date | null;
}

/** A connection locked for a token refresh: what was read under the lock, and the writes of the outcome (same transaction). */
export interface LockedConnection {
  row: ConnectionRow;
  credentials: CredentialRow[];
  /** Stores the new tokens and clears the failure count. */
  refreshed(sealed: SealedCredential[]): Promise<void>;
  /** Records a failed refresh: the consecutive count, when the next may be tried, and a new status if any. */
  refreshFailed(failure: { failures: number; notBefore: Date | null; message: string; status?: ConnectionStatus }): Promise<void>;
}

/** Where a page of connections ends: created_at as Postgres prints it (microseconds kept) and the id. */
export interface ConnectionPageKey {
  createdAt: string;
  id: string;
}

const pageKey = sql<string>`${connections.createdAt}::text`;

/** Connections, their sealed credentials and pending OAuth states. Every admin change is audited in its transaction. */
export class ConnectionStore {
  constructor(private readonly db: Database) {}

  /** Undefined when the tenant already has a connection of that name. */
  async create(tenantId: string, values: NewConnection, actor: string): Promise<ConnectionRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(connections).values({ tenantId, ...values }).onConflictDoNothing().returning();
      if (row) await recordAudit(tx, { tenantId, actor, action: 'connection.created', target: `connection:${row.id}`, details: { provider: row.provider, name: row.name } });
      return row;
    });
  }

  /** Up to `limit` connections after `after`, oldest first, each with the key of its place in the list. */
  async page(tenantId: string, limit: number, after?: ConnectionPageKey): Promise<(ConnectionRow & { pageKey: string })[]> {
    return this.db
      .select({ ...getTableColumns(connections), pageKey })
      .from(connections)
      .where(
        and(
          eq(connections.tenantId, tenantId),
          after ? sql`(${connections.createdAt}, ${connections.id}) > (${after.createdAt}::timestamptz, ${after.id}::uuid)` : undefined,
        ),
      )
      .orderBy(asc(connections.createdAt), asc(connections.id))
      .limit(limit);
  }

  async find(tenantId: string, id: string): Promise<ConnectionRow | undefined> {
    const [row] = await this.db.select().from(connections).where(and(eq(connections.tenantId, tenantId), eq(connections.id, id)));
    return row;
  }

  /** Any tenant's connection (the OAuth callback knows it only from its state). */
  async findById(id: string): Promise<ConnectionRow | undefined> {
    const [row] = await this.db.select().from(connections).where(eq(connections.id, id));
    return row;
  }

  /** Undefined when there is no such connection; `null` when the new name is taken. */
  async update(tenantId: string, id: string, set: Partial<NewConnection>, actor: string, changed: string[]): Promise<ConnectionRow | undefined | null> {
    return this.db.transaction(async (tx) => {
      if (set.name !== undefined) {
        const [clash] = await tx
          .select({ id: connections.id })
          .from(connections)
          .where(and(eq(connections.tenantId, tenantId), eq(connections.name, set.name), ne(connections.id, id)));
        if (clash) return null;
      }
      const [row] = await tx
        .update(connections)
        .set({ ...set, updatedAt: new Date() })
        .where(and(eq(connections.tenantId, tenantId), eq(connections.id, id)))
        .returning();
      if (row) await recordAudit(tx, { tenantId, actor, action: 'connection.updated', target: `connection:${id}`, details: { changed } });
      return row;
    });
  }

  async remove(tenantId: string, id: string, actor: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const removed = await tx
        .delete(connections)
        .where(and(eq(connections.tenantId, tenantId), eq(connections.id, id)))
        .returning({ id: connections.id, provider: connections.provider });
      if (removed[0]) await recordAudit(tx, { tenantId, actor, action: 'connection.deleted', target: `connection:${id}`, details: { provider: removed[0].provider } });
      return removed.length > 0;
    });
  }

  async credentialsOf(connectionIds: string[]): Promise<CredentialRow[]> {
    if (connectionIds.length === 0) return [];
    return this.db.select().from(connectionCredentials).where(inArray(connectionCredentials.connectionId, connectionIds)).orderBy(asc(connectionCredentials.kind));
  }

  /**
   * Stores sealed credentials (replacing those of the same kinds) and sets the status the caller
   * computed from the kinds then held, in one transaction with its audit entry (kinds only).
   */
  async saveCredentials(
    connection: Pick<ConnectionRow, 'id' | 'tenantId'>,
    credentials: SealedCredential[],
    status: (kinds: Set<CredentialKind>) => ConnectionStatus,
    audit: { actor: string; action: string },
  ): Promise<ConnectionRow | undefined> {
    return this.db.transaction(async (tx) => {
      // The connection's row first: concurrent writers of its credentials take turns.
      const [locked] = await tx.select({ id: connections.id }).from(connections).where(eq(connections.id, connection.id)).for('update');
      if (!locked) return undefined;
      const now = new Date();
      for (const credential of credentials) {
        await tx
          .insert(connectionCredentials)
          .values({ connectionId: connection.id, ...credential, updatedAt: now })
          .onConflictDoUpdate({
            target: [connectionCredentials.connectionId, connectionCredentials.kind],
            set: { keyId: credential.keyId, sealed: credential.sealed, expiresAt: credential.expiresAt, updatedAt: now },
          });
      }
      const held = await tx.select({ kind: connectionCredentials.kind }).from(connectionCredentials).where(eq(connectionCredentials.connectionId, connection.id));
      const [row] = await tx
        .update(connections)
        .set({ status: status(new Set(held.map((entry) => entry.kind))), lastError: null, lastErrorAt: null, refreshFailures: 0, refreshNotBefore: null, updatedAt: now })
        .where(eq(connections.id, connection.id))
        .returning();
      await recordAudit(tx, {
        tenantId: connection.tenantId,
        actor: audit.actor,
        action: audit.action,
        target: `connection:${connection.id}`,
        details: { kinds: credentials.map((credential) => credential.kind) },
      });
      return row;
    });
  }

  /**
   * Runs `work` in one transaction holding the connection's row lock (the lock order for its
   * credentials: the connection row, as in saveCredentials), given the row and its credentials as
   * read under that lock. Undefined when there is no such connection.
   */
  async underRefreshLock<T>(connectionId: string, work: (locked: LockedConnection) => Promise<T>): Promise<T | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(connections).where(eq(connections.id, connectionId)).for('update');
      if (!row) return undefined;
      const credentials = await tx.select().from(connectionCredentials).where(eq(connectionCredentials.connectionId, connectionId));
      return work({
        row,
        credentials,
        async refreshed(sealed) {
          const now = new Date();
          for (const credential of sealed) {
            await tx
              .insert(connectionCredentials)
              .values({ connectionId, ...credential, updatedAt: now })
              .onConflictDoUpdate({
                target: [connectionCredentials.connectionId, connectionCredentials.kind],
                set: { keyId: credential.keyId, sealed: credential.sealed, expiresAt: credential.expiresAt, updatedAt: now },
              });
          }
          await tx.update(connections).set({ refreshFailures: 0, refreshNotBefore: null, updatedAt: now }).where(eq(connections.id, connectionId));
        },
        async refreshFailed(failure) {
          const now = new Date();
          await tx
            .update(connections)
            .set({
              refreshFailures: failure.failures,
              refreshNotBefore: failure.notBefore,
              lastError: failure.message,
              lastErrorAt: now,
              updatedAt: now,
              ...(failure.status ? { status: failure.status } : {}),
            })
            .where(eq(connections.id, connectionId));
        },
      });
    });
  }

  /** Records a failure on the connection, and its new status when one is given (e.g. `broken`). */
  async recordError(connectionId: string, message: string, status?: ConnectionStatus): Promise<void> {
    await this.db
      .update(connections)
      .set({ lastError: message, lastErrorAt: new Date(), updatedAt: new Date(), ...(status ? { status } : {}) })
      .where(eq(connections.id, connectionId));
  }

  /** What the sync schedules follow, of every connection. */
  async schedules(): Promise<Pick<ConnectionRow, 'id' | 'tenantId' | 'provider' | 'status' | 'scheduleMinutes'>[]> {
    return this.db
      .select({ id: connections.id, tenantId: connections.tenantId, provider: connections.provider, status: connections.status, scheduleMinutes: connections.scheduleMinutes })
      .from(connections);
  }

  /** A sync was queued: shown as such until a worker takes it (a running one keeps its state). */
  async markSyncQueued(connectionId: string): Promise<void> {
    await this.db.update(connections).set({ syncState: 'queued', updatedAt: new Date() }).where(and(eq(connections.id, connectionId), isNull(connections.syncJobId)));
  }

  /** Up to `limit` records of the connection no user matched, newest change first, after `after`. */
  async unmatchedRecords(connectionId: string, limit: number, after?: { updatedAt: string; remoteId: string }) {
    return this.db
      .select({ ...getTableColumns(syncedRecords), pageKey: sql<string>`${syncedRecords.updatedAt}::text` })
      .from(syncedRecords)
      .where(
        and(
          eq(syncedRecords.connectionId, connectionId),
          isNull(syncedRecords.userId),
          after ? sql`(${syncedRecords.updatedAt}, ${syncedRecords.remoteId}) < (${after.updatedAt}::timestamptz, ${after.remoteId})` : undefined,
        ),
      )
      .orderBy(desc(syncedRecords.updatedAt), desc(syncedRecords.remoteId))
      .limit(limit);
  }

  // OAuth states

  /** Stores a pending authorization; states expired more than a day ago are dropped on the way. */
  async insertState(state: typeof oauthStates.$inferInsert): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(oauthStates).where(lt(oauthStates.expiresAt, sql`now() - interval '1 day'`));
      await tx.insert(oauthStates).values(state);
    });
  }

  /**
   * Marks a state used and returns it, once: `reused` when it was presented before, `unknown`
   * when it was never issued (or is long gone). Expiry is the caller's to judge.
   */
  async consumeState(stateHash: string): Promise<OAuthStateRow | 'reused' | 'unknown'> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(oauthStates).where(eq(oauthStates.stateHash, stateHash)).for('update');
      if (!row) return 'unknown';
      if (row.usedAt) return 'reused';
      // The verifier is needed once: it does not outlive its use.
      await tx.update(oauthStates).set({ usedAt: new Date(), codeVerifier: null, keyId: null }).where(eq(oauthStates.stateHash, stateHash));
      return row;
    });
  }

  // Rotation: every sealed value not under the current key, in keyset pages, each rewritten by one
  // compare-and-set statement (its own short transaction), so readers never wait and a value
  // changed meanwhile is left alone.

  async countSealedWithOtherKeys(currentKeyId: string): Promise<{ credentials: number; states: number }> {
    const [credentials] = await this.db.select({ n: sql<number>`count(*)::int` }).from(connectionCredentials).where(ne(connectionCredentials.keyId, currentKeyId));
    const [states] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(oauthStates)
      .where(and(ne(oauthStates.keyId, currentKeyId), isNull(oauthStates.usedAt), gt(oauthStates.expiresAt, sql`now()`)));
    return { credentials: credentials?.n ?? 0, states: states?.n ?? 0 };
  }

  async credentialsWithOtherKeys(currentKeyId: string, limit: number, after?: { connectionId: string; kind: CredentialKind }): Promise<CredentialRow[]> {
    return this.db
      .select()
      .from(connectionCredentials)
      .where(
        and(
          ne(connectionCredentials.keyId, currentKeyId),
          after
            ? or(gt(connectionCredentials.connectionId, after.connectionId), and(eq(connectionCredentials.connectionId, after.connectionId), gt(connectionCredentials.kind, after.kind)))
            : undefined,
        ),
      )
      .orderBy(asc(connectionCredentials.connectionId), asc(connectionCredentials.kind))
      .limit(limit);
  }

  /** True when the value was still `previous` and is now `next`. */
  async resealCredential(row: Pick<CredentialRow, 'connectionId' | 'kind' | 'sealed'>, next: { keyId: string; sealed: string }): Promise<boolean> {
    const updated = await this.db
      .update(connectionCredentials)
      .set(next)
      .where(and(eq(connectionCredentials.connectionId, row.connectionId), eq(connectionCredentials.kind, row.kind), eq(connectionCredentials.sealed, row.sealed)))
      .returning({ kind: connectionCredentials.kind });
    return updated.length > 0;
  }

  async statesWithOtherKeys(currentKeyId: string, limit: number, afterHash?: string): Promise<OAuthStateRow[]> {
    return this.db
      .select()
      .from(oauthStates)
      .where(
        and(ne(oauthStates.keyId, currentKeyId), isNull(oauthStates.usedAt), gt(oauthStates.expiresAt, sql`now()`), afterHash ? gt(oauthStates.stateHash, afterHash) : undefined),
      )
      .orderBy(asc(oauthStates.stateHash))
      .limit(limit);
  }

  async resealState(stateHash: string, previous: string, next: { keyId: string; sealed: string }): Promise<boolean> {
    const updated = await this.db
      .update(oauthStates)
      .set({ keyId: next.keyId, codeVerifier: next.sealed })
      .where(and(eq(oauthStates.stateHash, stateHash), eq(oauthStates.codeVerifier, previous), isNull(oauthStates.usedAt)))
      .returning({ stateHash: oauthStates.stateHash });
    return updated.length > 0;
  }
}
