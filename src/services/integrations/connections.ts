import { z } from 'zod';
import {
  type ConnectionCredentialsInput,
  type ConnectionProvider,
  type ConnectionStatus,
  type ConnectionView,
  type CreateConnectionInput,
  type CredentialKind,
  type PatchConnectionInput,
} from '../../contracts/api/connections.js';
import { CredentialDecryptError, type CredentialVault } from '../../platform/credential-vault.js';
import { ConnectionStore, type ConnectionPageKey, type ConnectionRow, type CredentialRow, type SealedCredential } from '../../repositories/connections.js';
import type { Database } from '../../repositories/db/client.js';
import { ConnectionConflictError, ConnectionInputError } from './errors.js';
import { providerFor } from './providers/index.js';

/** What a secret is bound to (GCM additional data): a sealed value moved to another row or kind does not open. */
export const credentialContext = (connectionId: string, kind: CredentialKind) => `connection:${connectionId}:${kind}`;

/** The credential kind each field of `PUT .../credentials` is stored as. */
const fieldKinds = { apiKey: 'api_key', clientId: 'client_id', clientSecret: 'client_secret' } as const satisfies Record<keyof ConnectionCredentialsInput, CredentialKind>;

/** A connection's opened secrets, by kind (for the sync engine and the OAuth flow; never for an API answer). */
export type OpenedCredentials = Partial<Record<CredentialKind, { value: string; expiresAt: Date | null }>>;

/** The status a connection has with these kinds stored: `active` once its provider has all it needs. */
export function statusWith(provider: ConnectionProvider, kinds: Set<CredentialKind>, current: ConnectionStatus): ConnectionStatus {
  if (current === 'disabled') return 'disabled';
  return providerFor(provider).readyWith.every((kind) => kinds.has(kind)) ? 'active' : 'needs_reauth';
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function connectionView(row: ConnectionRow, credentials: CredentialRow[]): ConnectionView {
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
    },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

const encodeCursor = (key: ConnectionPageKey) => Buffer.from(JSON.stringify([key.createdAt, key.id])).toString('base64url');

function decodeCursor(cursor: string): ConnectionPageKey {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof id === 'string' && z.uuid().safeParse(id).success) return { createdAt, id };
  } catch {
    // answered below
  }
  throw new ConnectionInputError([{ path: 'cursor', message: 'must be a nextCursor from a previous page' }]);
}

export interface ConnectionServiceOptions {
  /** Whether settings may override a provider's URLs (`baseUrls`). */
  allowCustomUrls: boolean;
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
    return connectionView(row, []);
  }

  async list(tenantId: string, options: { limit: number; cursor?: string }): Promise<{ connections: ConnectionView[]; nextCursor: string | null }> {
    const rows = await this.store.page(tenantId, options.limit + 1, options.cursor ? decodeCursor(options.cursor) : undefined);
    const page = rows.slice(0, options.limit);
    const credentials = await this.store.credentialsOf(page.map((row) => row.id));
    const last = page.at(-1);
    return {
      connections: page.map((row) => connectionView(row, credentials)),
      nextCursor: rows.length > options.limit && last ? encodeCursor({ createdAt: last.pageKey, id: last.id }) : null,
    };
  }

  async get(tenantId: string, id: string): Promise<ConnectionView | undefined> {
    const row = await this.store.find(tenantId, id);
    return row ? connectionView(row, await this.store.credentialsOf([row.id])) : undefined;
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
    return row ? connectionView(row, credentials) : undefined;
  }

  remove(tenantId: string, id: string, actor: string): Promise<boolean> {
    return this.store.remove(tenantId, id, actor);
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
    return row ? connectionView(row, await this.store.credentialsOf([id])) : undefined;
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
