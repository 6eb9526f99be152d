import { z } from 'zod';
import {
  type ConnectionCredentialsInput,
  type ConnectionProvider,
  type ConnectionStatus,
  type ConnectionView,
  type CreateConnectionInput,
  type CredentialKind,
  type PatchConnectionInput,
  type syncStartedSchema,
  type unmatchedRecordsSchema,
} from '../../contracts/api/connections.js';
import { CredentialDecryptError, type CredentialVault } from '../../platform/credential-vault.js';
import { ConnectionStore, type ConnectionRow, type CredentialRow, type SealedCredential } from '../../repositories/connections.js';
import type { Database } from '../../repositories/db/client.js';
import { ConnectionConflictError, ConnectionInputError } from './errors.js';
import { providerFor } from './providers/index.js';
import type { SyncLiveState, SyncScheduler } from './sync-scheduler.js';

/** What a secret is bound to (GCM additional data): a sealed value moved to another row or kind does not open. */
export const credentialContext = (connectionId: string, kind: CredentialKind) => `connection:${connectionId}:${kind}`;

/** The credential kind each field of `PUT .../credentials` is stored as. */
const fieldKinds = { apiKey: 'api_key', clientId: 'client_id', clientSecret: 'client_secret' } as const satisfies Record<keyof ConnectionCredentialsInput, CredentialKind>;

type SyncStarted = z.infer<typeof syncStartedSchema>;
type UnmatchedRecords = z.infer<typeof unmatchedRecordsSchema>;

/** A connection's opened secrets, by kind (for the sync engine and the OAuth flow; never for an API answer). */
export type OpenedCredentials = Partial<Record<CredentialKind, { value: string; expiresAt: Date | null }>>;

/** The status a connection has with these kinds stored: `active` once its provider has all it needs. */
export function statusWith(provider: ConnectionProvider, kinds: Set<CredentialKind>, current: ConnectionStatus): ConnectionStatus {
  if (current === 'disabled') return 'disabled';
  return providerFor(provider).readyWith.every((kind) => kinds.has(kind)) ? 'active' : 'needs_reauth';
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

const idle: SyncLiveState = { circuit: 'closed', nextRunAt: null };

export function connectionView(row: ConnectionRow, credentials: CredentialRow[], live: SyncLiveState = idle): ConnectionView {
  return {
    id: row.id,
    provider: row.provider,
    name: row.name,
    settings: row.settings,
    scheduleMinutes: row.scheduleMinutes,
    mapping: row.mapping,
    status: row.status,
    // Which kinds are stored and until when: never a value.
    credentials: credentials.filter((credential) => credential.connectionId === row.id).map((credential) => ({ kind: credential.kind, expiresAt: iso(credential.expiresAt), updatedAt: credential.updatedAt.toISOString() })),
    sync: {
      cursor: row.cursor,
      lastStartedAt: iso(row.lastSyncStartedAt),
      lastFinishedAt: iso(row.lastSyncFinishedAt),
      lastError: row.lastError,
      lastErrorAt: iso(row.lastErrorAt),
      counts: { records: row.recordsSynced, events: row.eventsCreated, unmatched: row.unmatchedRecords },
      state: row.syncState,
      lastRun: row.lastRun ?? null,
      rateLimitedUntil: row.rateLimitedUntil && row.rateLimitedUntil.getTime() > Date.now() ? row.rateLimitedUntil.toISOString() : null,
      nextRunAt: iso(live.nextRunAt),
      circuit: live.circuit,
    },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** A page cursor: the base64url JSON pair [instant as Postgres prints it, id] of the previous page's last row. */
const encodeCursor = (instant: string, id: string) => Buffer.from(JSON.stringify([instant, id])).toString('base64url');

function decodeCursor(cursor: string, validId: (id: string) => boolean): [string, string] {
  try {
    const [instant, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof instant === 'string' && !Number.isNaN(Date.parse(instant)) && typeof id === 'string' && validId(id)) return [instant, id];
  } catch {
    // answered below
  }
  throw new ConnectionInputError([{ path: 'cursor', message: 'must be a nextCursor from a previous page' }]);
}

const isUuid = (id: string) => z.uuid().safeParse(id).success;

export interface ConnectionServiceOptions {
  /** Whether settings may override a provider's URLs (`baseUrls`). */
  allowCustomUrls: boolean;
  /** Keeps each connection's sync schedule in step with its row, and tells its live sync state (absent: views show none). */
  syncs?: Pick<SyncScheduler, 'reschedule' | 'unschedule' | 'live' | 'trigger'>;
}

/** The connections use cases: validated per provider, secrets sealed by the vault, every change audited. */
export class ConnectionService {
  readonly store: ConnectionStore;

  constructor(
    db: Database,
    readonly vault: CredentialVault,
    private readonly options: ConnectionServiceOptions,
  ) {
    this.store = new ConnectionStore(db);
  }

  private checkSettings(provider: ConnectionProvider, settings: unknown): ConnectionRow['settings'] {
    const parsed = providerFor(provider).settingsSchema.safeParse(settings);
    if (!parsed.success) throw new ConnectionInputError(parsed.error.issues.map((issue) => ({ path: ['settings', ...issue.path.map(String)].join('.'), message: issue.message })));
    if (parsed.data.baseUrls && !this.options.allowCustomUrls) {
      throw new ConnectionInputError([{ path: 'settings.baseUrls', message: 'custom provider URLs are disabled on this hub (INTEGRATIONS_ALLOW_CUSTOM_URLS)' }]);
    }
    return parsed.data;
  }

  async create(tenantId: string, input: CreateConnectionInput, actor: string): Promise<ConnectionView> {
    const settings = this.checkSettings(input.provider, input.settings);
    const row = await this.store.create(
      tenantId,
      { provider: input.provider, name: input.name, settings, scheduleMinutes: input.scheduleMinutes, mapping: input.mapping, status: 'needs_reauth' },
      actor,
    );
    if (!row) throw new ConnectionConflictError(`A connection named "${input.name}" already exists`);
    return this.view(row, []);
  }

  /**
   * The API's view of a row, with its live sync state. Its schedule is brought in step first when
   * what it follows changed (`before`: the row before the change; absent: a new connection), and
   * only then: re-upserting an interval scheduler would start a sync at once.
   */
  private async view(row: ConnectionRow, credentials: CredentialRow[], before?: ConnectionRow | null): Promise<ConnectionView> {
    if (before !== null && (before === undefined || before.status !== row.status || before.scheduleMinutes !== row.scheduleMinutes)) await this.options.syncs?.reschedule(row);
    const live = await this.options.syncs?.live([row]);
    return connectionView(row, credentials, live?.get(row.id));
  }

  async list(tenantId: string, options: { limit: number; cursor?: string }): Promise<{ connections: ConnectionView[]; nextCursor: string | null }> {
    const key = options.cursor ? decodeCursor(options.cursor, isUuid) : undefined;
    const rows = await this.store.page(tenantId, options.limit + 1, key ? { createdAt: key[0], id: key[1] } : undefined);
    const page = rows.slice(0, options.limit);
    const credentials = await this.store.credentialsOf(page.map((row) => row.id));
    const last = page.at(-1);
    const live = await this.options.syncs?.live(page);
    return {
      connections: page.map((row) => connectionView(row, credentials, live?.get(row.id))),
      nextCursor: rows.length > options.limit && last ? encodeCursor(last.pageKey, last.id) : null,
    };
  }

  async get(tenantId: string, id: string): Promise<ConnectionView | undefined> {
    const row = await this.store.find(tenantId, id);
    return row ? this.view(row, await this.store.credentialsOf([row.id]), null) : undefined;
  }

  async update(tenantId: string, id: string, patch: PatchConnectionInput, actor: string): Promise<ConnectionView | undefined> {
    const current = await this.store.find(tenantId, id);
    if (!current) return undefined;
    const credentials = await this.store.credentialsOf([id]);
    const set: Parameters<ConnectionStore['update']>[2] = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.scheduleMinutes !== undefined) set.scheduleMinutes = patch.scheduleMinutes;
    if (patch.mapping !== undefined) set.mapping = patch.mapping;
    // Merged into what is stored (a field set to null is removed), then validated for the provider.
    if (patch.settings !== undefined) {
      const merged = Object.fromEntries(Object.entries({ ...current.settings, ...patch.settings }).filter(([, value]) => value !== null));
      set.settings = this.checkSettings(current.provider, merged);
    }
    if (patch.status === 'disabled') set.status = 'disabled';
    if (patch.status === 'active') set.status = statusWith(current.provider, new Set(credentials.map((credential) => credential.kind)), 'active');
    const row = await this.store.update(tenantId, id, set, actor, Object.keys(patch));
    if (row === null) throw new ConnectionConflictError(`A connection named "${patch.name ?? ''}" already exists`);
    return row ? this.view(row, credentials, current) : undefined;
  }

  async remove(tenantId: string, id: string, actor: string): Promise<boolean> {
    const row = await this.store.find(tenantId, id);
    if (!row) return false;
    const removed = await this.store.remove(tenantId, id, actor);
    if (removed) await this.options.syncs?.unschedule(row);
    return removed;
  }

  /** Queues a sync now (see SyncScheduler.trigger); a conflict unless the connection is active. */
  async startSync(tenantId: string, id: string): Promise<SyncStarted | undefined> {
    const row = await this.store.find(tenantId, id);
    if (!row) return undefined;
    if (row.status !== 'active') throw new ConnectionConflictError(`The connection is ${row.status}: ${row.status === 'disabled' ? 'enable it first' : 'store its credentials or authorize it first'}`);
    if (!this.options.syncs) throw new ConnectionConflictError('Syncs are not available on this hub');
    const jobId = await this.options.syncs.trigger(row);
    await this.store.markSyncQueued(row.id);
    const current = await this.store.find(tenantId, id);
    return { connectionId: row.id, jobId, state: current?.syncState ?? 'queued' };
  }

  async unmatched(tenantId: string, id: string, options: { limit: number; cursor?: string }): Promise<UnmatchedRecords | undefined> {
    const row = await this.store.find(tenantId, id);
    if (!row) return undefined;
    const key = options.cursor ? decodeCursor(options.cursor, (remoteId) => remoteId.length <= 256) : undefined;
    const rows = await this.store.unmatchedRecords(id, options.limit + 1, key ? { updatedAt: key[0], remoteId: key[1] } : undefined);
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      records: page.map((record) => ({
        remoteId: record.remoteId,
        kind: record.kind,
        userKey: record.userKey,
        occurredAt: new Date(record.occurredAt).toISOString(),
        value: record.value,
        currency: record.currency,
        updatedAt: new Date(record.updatedAt).toISOString(),
      })),
      nextCursor: rows.length > options.limit && last ? encodeCursor(last.pageKey, last.remoteId) : null,
    };
  }

  /** After an authorization stored new tokens: the connection may now be active, and scheduled. */
  async authorized(connectionId: string): Promise<void> {
    const row = await this.store.findById(connectionId);
    if (row) await this.options.syncs?.reschedule(row);
  }

  /** Seals and stores the given secrets (write-only), then sets the status they allow. */
  async setCredentials(tenantId: string, id: string, body: ConnectionCredentialsInput, actor: string): Promise<ConnectionView | undefined> {
    const connection = await this.store.find(tenantId, id);
    if (!connection) return undefined;
    const { accepted, required } = providerFor(connection.provider).credentialFields;
    const given = (Object.keys(body) as (keyof ConnectionCredentialsInput)[]).filter((field) => body[field] !== undefined);
    const errors = given.filter((field) => !accepted.includes(field)).map((field) => ({ path: field, message: `${connection.provider} connections do not take ${field}` }));
    const stored = new Set((await this.store.credentialsOf([id])).map((credential) => credential.kind));
    for (const field of required) {
      if (!given.includes(field) && !stored.has(fieldKinds[field])) errors.push({ path: field, message: `is required for ${connection.provider} connections` });
    }
    if (errors.length > 0) throw new ConnectionInputError(errors);
    const sealed = given.map((field) => this.seal(id, fieldKinds[field], body[field] as string, null));
    const row = await this.store.saveCredentials(connection, sealed, (kinds) => statusWith(connection.provider, kinds, connection.status), { actor, action: 'connection.credentials_set' });
    return row ? this.view(row, await this.store.credentialsOf([id]), connection) : undefined;
  }

  seal(connectionId: string, kind: CredentialKind, value: string, expiresAt: Date | null): SealedCredential {
    return { kind, keyId: this.vault.currentKeyId, sealed: this.vault.encrypt(value, credentialContext(connectionId, kind)), expiresAt };
  }

  /**
   * Opens a connection's secrets. A secret that does not open (tampered, or sealed with a key no
   * longer in the ring) marks the connection `broken` and throws the CredentialDecryptError.
   */
  async openCredentials(connectionId: string, kinds?: CredentialKind[]): Promise<OpenedCredentials> {
    const rows = (await this.store.credentialsOf([connectionId])).filter((row) => !kinds || kinds.includes(row.kind));
    const opened: OpenedCredentials = {};
    for (const row of rows) {
      try {
        opened[row.kind] = { value: this.vault.decrypt(row.sealed, credentialContext(connectionId, row.kind)), expiresAt: row.expiresAt };
      } catch (error) {
        if (error instanceof CredentialDecryptError) await this.store.recordError(connectionId, `credential ${row.kind}: ${error.message}`, 'broken');
        throw error;
      }
    }
    return opened;
  }
}
