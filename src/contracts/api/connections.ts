import { z } from 'zod';
import { storableString } from './common.js';
import { EVENT_TYPE_PATTERN } from './events.js';

/** Persisted in `connections.provider`: do not rename. */
export const connectionProviders = ['shopify', 'stripe', 'etsy', 'tiktok_shop'] as const;
export type ConnectionProvider = (typeof connectionProviders)[number];

/**
 * `active`: syncs run. `needs_reauth`: waiting for credentials or an authorization (a new OAuth
 * connection starts here, and one whose refresh failed returns here). `broken`: a stored secret
 * cannot be read back (tampered, or sealed with a key no longer configured). `disabled`: by an admin.
 */
export const connectionStatuses = ['active', 'needs_reauth', 'broken', 'disabled'] as const;
export type ConnectionStatus = (typeof connectionStatuses)[number];

/**
 * Persisted in `connections.sync_state`: `idle` (no sync queued or running), `queued`, `running`,
 * `rate_limited` (waiting out the provider's Retry-After; resumes from its checkpoint), `failed`
 * (the last sync stopped on an error; retried with backoff or at the next schedule).
 */
export const syncStates = ['idle', 'queued', 'running', 'rate_limited', 'failed'] as const;
export type SyncState = (typeof syncStates)[number];

/** A provider's circuit breaker in the worker processes (cockatiel): `open` fails syncs fast without calling. */
export const circuitStates = ['closed', 'open', 'half_open', 'isolated'] as const;
export type CircuitState = (typeof circuitStates)[number];

/** What one sync run did (the current one while it runs). */
export const syncRunFiguresSchema = z.object({
  pages: z.int(),
  records: z.int(),
  events: z.int(),
  unmatched: z.int(),
  durationMs: z.int(),
});
export type SyncRunFigures = z.infer<typeof syncRunFiguresSchema>;

/** Persisted in `connection_credentials.kind`: do not rename. */
export const credentialKinds = ['access_token', 'refresh_token', 'api_key', 'client_id', 'client_secret'] as const;
export type CredentialKind = (typeof credentialKinds)[number];

const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048);

/**
 * Where a provider is reached, instead of its public URLs: for a sandbox or a local simulator.
 * Refused unless the hub allows it (INTEGRATIONS_ALLOW_CUSTOM_URLS, off in production).
 */
const baseUrls = z
  .object({ api: httpUrl.optional(), authorize: httpUrl.optional(), token: httpUrl.optional() })
  .strict()
  .meta({ description: "Overrides of the provider's API, authorize and token URLs (sandboxes, simulators); off in production" });

const common = {
  baseUrls: baseUrls.optional(),
  /** The first sync imports records from this date on (bounded backfill). */
  backfillFrom: z.iso.date().optional().meta({ description: 'The first sync imports records from this day on', example: '2026-01-01' }),
};

export const shopifySettingsSchema = z
  .object({
    shopDomain: z.string().regex(/^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$/, { message: 'must be the shop\'s myshopify.com domain, e.g. acme.myshopify.com' }),
    apiVersion: z.string().regex(/^\d{4}-(01|04|07|10)$/, { message: 'must be a Shopify API version such as 2025-01' }).default('2025-01'),
    ...common,
  })
  .strict();

export const stripeSettingsSchema = z
  .object({
    /** A connected account (Stripe Connect), sent as the Stripe-Account header. */
    accountId: z.string().regex(/^acct_[A-Za-z0-9]{1,64}$/, { message: 'must be a Stripe account id (acct_...)' }).optional(),
    ...common,
  })
  .strict();

export const etsySettingsSchema = z
  .object({
    shopId: z.string().regex(/^\d{1,20}$/, { message: 'must be the numeric Etsy shop id' }),
    scopes: z.array(z.string().regex(/^[a-z_]{1,32}$/)).min(1).max(20).default(['transactions_r', 'shops_r']),
    ...common,
  })
  .strict();

export const tiktokShopSettingsSchema = z
  .object({
    /** The shop's cipher, sent with shop-scoped calls (known after authorization, or set here). */
    shopCipher: storableString(128).optional(),
    ...common,
  })
  .strict();

export const providerSettingsSchemas = {
  shopify: shopifySettingsSchema,
  stripe: stripeSettingsSchema,
  etsy: etsySettingsSchema,
  tiktok_shop: tiktokShopSettingsSchema,
} as const;

export type ProviderSettings = { [P in ConnectionProvider]: z.infer<(typeof providerSettingsSchemas)[P]> };
export type ConnectionSettings = ProviderSettings[ConnectionProvider];

/** Which field of a remote record finds the tenant's user, and which event each kind of record becomes. */
export const connectionMappingSchema = z
  .object({
    userField: z.enum(['email', 'customer_id', 'external_id']).default('email').meta({ description: "The record's field matched against the tenant's user ids" }),
    eventTypes: z
      .record(z.string().regex(/^[a-z][a-z0-9_.]{0,63}$/, { message: 'must be a record kind such as order.paid' }), z.string().regex(EVENT_TYPE_PATTERN, { message: `must match ${EVENT_TYPE_PATTERN.source}` }))
      .refine((types) => Object.keys(types).length <= 50, { message: 'at most 50 record kinds' })
      .default({ 'order.paid': 'order.paid' })
      .meta({ description: 'Record kind → the Pulse Hub event type it becomes' }),
  })
  .strict();
export type ConnectionMapping = z.infer<typeof connectionMappingSchema>;

const scheduleMinutes = z.int().min(5).max(7 * 24 * 60).nullable().meta({ description: 'Minutes between scheduled syncs; null: manual syncs only', example: 60 });
const connectionName = storableString(120);

const createFor = <P extends ConnectionProvider>(provider: P) =>
  z
    .object({
      provider: z.literal(provider),
      name: connectionName,
      settings: providerSettingsSchemas[provider],
      scheduleMinutes: scheduleMinutes.default(60),
      mapping: connectionMappingSchema.default({ userField: 'email', eventTypes: { 'order.paid': 'order.paid' } }),
    })
    .strict();

export const createConnectionSchema = z
  .discriminatedUnion('provider', [createFor('shopify'), createFor('stripe'), createFor('etsy'), createFor('tiktok_shop')])
  .meta({
    id: 'ConnectionInput',
    example: { provider: 'shopify', name: 'Main store', settings: { shopDomain: 'acme.myshopify.com' }, scheduleMinutes: 60, mapping: { userField: 'email', eventTypes: { 'order.paid': 'order.paid' } } },
  });
export type CreateConnectionInput = z.infer<typeof createConnectionSchema>;

/** A partial change; `settings` is merged into the stored settings and validated for the connection's provider. */
export const patchConnectionSchema = z
  .object({
    name: connectionName.optional(),
    settings: z.record(z.string(), z.unknown()).optional(),
    scheduleMinutes: scheduleMinutes.optional(),
    mapping: connectionMappingSchema.optional(),
    /** `disabled` stops syncs; `active` re-enables (the connection is `needs_reauth` until its credentials are complete). */
    status: z.enum(['active', 'disabled']).optional(),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, { message: 'names nothing to change' })
  .meta({ id: 'ConnectionPatch', example: { scheduleMinutes: 30, settings: { apiVersion: '2025-04' } } });
export type PatchConnectionInput = z.infer<typeof patchConnectionSchema>;

const secret = (description: string) =>
  z.string().min(8).max(4096).regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' }).meta({ description, writeOnly: true });

/**
 * Write-only secrets for a connection: the API key (Shopify Admin API access token, Stripe
 * secret key), or the OAuth app's client id and secret (Etsy keystring; TikTok Shop app key and
 * app secret). Given fields replace the stored ones; none is ever returned or logged.
 */
export const connectionCredentialsSchema = z
  .object({
    apiKey: secret('Shopify Admin API access token or Stripe secret key').optional(),
    clientId: z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' }).optional().meta({ writeOnly: true }),
    clientSecret: secret("The OAuth app's client secret (TikTok Shop app secret)").optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'names no credential' })
  .meta({ id: 'ConnectionCredentials', example: { apiKey: 'shpat_00000000000000000000000000000000' } });
export type ConnectionCredentialsInput = z.infer<typeof connectionCredentialsSchema>;

const isoOrNull = z.iso.datetime().nullable();

/** What the API shows of a connection: never a secret, only which kinds are stored and until when. */
export const connectionSchema = z
  .object({
    id: z.uuid(),
    provider: z.enum(connectionProviders),
    name: z.string(),
    settings: z.record(z.string(), z.unknown()),
    scheduleMinutes: z.int().nullable(),
    mapping: connectionMappingSchema,
    status: z.enum(connectionStatuses),
    credentials: z.array(z.object({ kind: z.enum(credentialKinds), expiresAt: isoOrNull, updatedAt: z.iso.datetime() })),
    sync: z.object({
      cursor: z.record(z.string(), z.unknown()),
      lastStartedAt: isoOrNull,
      lastFinishedAt: isoOrNull,
      lastError: z.string().nullable(),
      lastErrorAt: isoOrNull,
      counts: z.object({ records: z.int(), events: z.int(), unmatched: z.int() }),
      state: z.enum(syncStates),
      lastRun: syncRunFiguresSchema.nullable(),
      rateLimitedUntil: isoOrNull.meta({ description: 'The provider throttled this account: no call before this instant' }),
      nextRunAt: isoOrNull.meta({ description: 'When the schedule starts the next sync (null: manual only or not active)' }),
      circuit: z.enum(circuitStates).meta({ description: "The provider's circuit breaker as the workers last reported it" }),
    }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({
    id: 'Connection',
    example: {
      id: '0b9e4a4e-4f7c-4a53-9d7a-2f1b1f0c9a11',
      provider: 'shopify',
      name: 'Main store',
      settings: { shopDomain: 'acme.myshopify.com', apiVersion: '2025-01' },
      scheduleMinutes: 60,
      mapping: { userField: 'email', eventTypes: { 'order.paid': 'order.paid' } },
      status: 'active',
      credentials: [{ kind: 'api_key', expiresAt: null, updatedAt: '2026-12-01T10:00:00.000Z' }],
      sync: {
        cursor: {},
        lastStartedAt: null,
        lastFinishedAt: null,
        lastError: null,
        lastErrorAt: null,
        counts: { records: 0, events: 0, unmatched: 0 },
        state: 'idle',
        lastRun: null,
        rateLimitedUntil: null,
        nextRunAt: null,
        circuit: 'closed',
      },
      createdAt: '2026-12-01T10:00:00.000Z',
      updatedAt: '2026-12-01T10:00:00.000Z',
    },
  });
export type ConnectionView = z.infer<typeof connectionSchema>;

export const connectionListQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, { message: 'must be a nextCursor from a previous page' }).optional(),
  })
  .strict();

export const connectionListSchema = z
  .object({ connections: z.array(connectionSchema), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }) })
  .meta({ id: 'ConnectionList', example: { connections: [connectionSchema.meta()?.example], nextCursor: null } });

export const authorizeQuerySchema = z
  .object({ redirect: z.enum(['true', 'false']).default('true').meta({ description: '`false`: answer 200 with the URL instead of a 302 (for pages that open it themselves)' }) })
  .strict();

export const authorizeResponseSchema = z
  .object({ authorizeUrl: z.url(), expiresAt: z.iso.datetime() })
  .meta({ id: 'ConnectionAuthorization', example: { authorizeUrl: 'https://www.etsy.com/oauth/connect?response_type=code&client_id=...&state=...&code_challenge=...&code_challenge_method=S256', expiresAt: '2026-12-01T10:10:00.000Z' } });

/** What a provider sends back to `/oauth/callback` (other parameters, such as TikTok's `locale`, are ignored). */
export const oauthCallbackQuerySchema = z.object({
  code: z.string().min(1).max(2048).optional(),
  state: z.string().min(1).max(256).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(1024).optional(),
});

/** `POST .../sync`: the sync is queued (or already queued or running: one at a time per connection). */
export const syncStartedSchema = z
  .object({ connectionId: z.uuid(), jobId: z.string(), state: z.enum(syncStates) })
  .meta({ id: 'SyncStarted', example: { connectionId: '0b9e4a4e-4f7c-4a53-9d7a-2f1b1f0c9a11', jobId: 'sync:0b9e4a4e-4f7c-4a53-9d7a-2f1b1f0c9a11:manual', state: 'queued' } });

export const unmatchedQuerySchema = connectionListQuerySchema;

/** Records no user of the tenant matched (by the mapping's `userField`): counted and listed, never dropped silently. */
export const unmatchedRecordsSchema = z
  .object({
    records: z.array(
      z.object({
        remoteId: z.string(),
        kind: z.string(),
        userKey: z.string().nullable().meta({ description: "The record's value of the mapping's user field (null: the record has none)" }),
        occurredAt: z.iso.datetime(),
        value: z.number().nullable(),
        currency: z.string().nullable(),
        updatedAt: z.iso.datetime(),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'UnmatchedRecords', example: { records: [{ remoteId: '5001234500001', kind: 'order.paid', userKey: 'someone@example.com', occurredAt: '2026-12-01T10:00:00.000Z', value: 42.5, currency: 'USD', updatedAt: '2026-12-01T10:05:00.000Z' }], nextCursor: null } });

/** `sync:progress`, to the tenant's dashboard while a sync runs and when it ends. */
export const syncProgressSchema = z.object({
  connectionId: z.uuid(),
  provider: z.enum(connectionProviders),
  state: z.enum([...syncStates, 'completed', 'needs_reauth', 'broken']),
  pages: z.int(),
  records: z.int(),
  events: z.int(),
  unmatched: z.int(),
  rateLimitedUntil: z.iso.datetime().optional(),
  error: z.string().optional(),
  circuit: z.enum(circuitStates).optional(),
  at: z.iso.datetime(),
});
export type SyncProgress = z.infer<typeof syncProgressSchema>;
