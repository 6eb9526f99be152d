import type { Request } from 'express';
import { z } from 'zod';
import {
  authorizeQuerySchema,
  authorizeResponseSchema,
  connectionCredentialsSchema,
  connectionListQuerySchema,
  connectionListSchema,
  connectionSchema,
  createConnectionSchema,
  oauthCallbackQuerySchema,
  patchConnectionSchema,
  syncStartedSchema,
  unmatchedQuerySchema,
  unmatchedRecordsSchema,
} from '../../contracts/api/connections.js';
import { problemSchema } from '../../contracts/api/problem.js';
import { CredentialDecryptError } from '../../platform/credential-vault.js';
import type { ConnectionService } from '../../services/integrations/connections.js';
import { ConnectionConflictError, ConnectionInputError } from '../../services/integrations/errors.js';
import { OAuthExchangeError, OAuthStateError, type OAuthFlow } from '../../services/integrations/oauth.js';
import { actorOf } from '../auth/admin.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { HttpError, httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { adminWithinBudget } from './guards.js';

export interface ConnectionRouteDeps {
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  connections: ConnectionService;
  oauth: OAuthFlow;
  /** The hub's public base URL (PUBLIC_URL); the request's own origin when unset. */
  publicUrl: string | undefined;
}

/** The path the providers send the browser back to. */
export const OAUTH_CALLBACK_PATH = '/oauth/callback';

/** The integration services' errors, as the problems they mean. */
export async function answeringProblems<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ConnectionInputError) throw httpErrors.validation(error.errors);
    if (error instanceof ConnectionConflictError) throw httpErrors.conflict(error.message);
    if (error instanceof CredentialDecryptError) throw new HttpError(409, 'credentials_unreadable', 'Conflict', `A stored secret of this connection cannot be opened (${error.reason}): the connection is marked broken; PUT its credentials again or authorize it again`);
    if (error instanceof OAuthStateError) throw new HttpError(400, `oauth_state_${error.problem}`, 'Bad Request', error.message);
    if (error instanceof OAuthExchangeError) throw new HttpError(502, 'oauth_exchange_failed', 'Bad Gateway', error.message);
    throw error;
  }
}

const found = <T>(value: T | undefined): T => {
  if (value === undefined) throw httpErrors.notFound('No such connection');
  return value;
};

const idParams = z.object({ id: z.uuid({ message: 'must be a connection id (UUID)' }).meta({ example: '0b9e4a4e-4f7c-4a53-9d7a-2f1b1f0c9a11' }) });

export const createConnection = defineRoute({
  method: 'post',
  path: '/api/v1/admin/connections',
  operationId: 'createConnection',
  tags: ['integrations'],
  summary: 'Connect a provider account (API key or admin)',
  description:
    '`settings` are validated for the provider (Shopify: `shopDomain`; Etsy: `shopId`; ...). A new connection is `needs_reauth` until its credentials are stored (PUT .../credentials) and, for OAuth providers, it is authorized (GET .../authorize). Audited.',
  auth: 'either',
  request: { body: { schema: createConnectionSchema, examples: { shopify: { summary: 'A Shopify store', value: createConnectionSchema.meta()?.example } } } },
  guard: adminWithinBudget('manage connections'),
  responses: { 201: json('Created', connectionSchema, limited), ...problems(400, 401, 403, 409, 413, 415, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, body }) => {
    res.status(201).json(await answeringProblems(() => deps.connections.create(principal.tenantId, body, actorOf(principal))));
  },
});

export const listConnections = defineRoute({
  method: 'get',
  path: '/api/v1/admin/connections',
  operationId: 'listConnections',
  tags: ['integrations'],
  summary: "The tenant's connections, a page at a time (API key or admin)",
  auth: 'either',
  request: { query: connectionListQuerySchema },
  guard: adminWithinBudget('read connections'),
  responses: { 200: json('A page of connections, oldest first', connectionListSchema, limited), ...problems(400, 401, 403, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, query }) => {
    res.json(await answeringProblems(() => deps.connections.list(principal.tenantId, query)));
  },
});

export const getConnection = defineRoute({
  method: 'get',
  path: '/api/v1/admin/connections/{id}',
  operationId: 'getConnection',
  tags: ['integrations'],
  summary: 'One connection: status, credentials held (kinds only), sync cursor, counts, last error (API key or admin)',
  auth: 'either',
  request: { params: idParams },
  guard: adminWithinBudget('read connections'),
  responses: { 200: json('The connection', connectionSchema, limited), ...problems(400, 401, 403, 404, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, params: { id } }) => {
    res.json(found(await deps.connections.get(principal.tenantId, id)));
  },
});

export const patchConnection = defineRoute({
  method: 'patch',
  path: '/api/v1/admin/connections/{id}',
  operationId: 'updateConnection',
  tags: ['integrations'],
  summary: 'Change a connection (API key or admin)',
  description: '`settings` is merged into the stored settings (null removes a field) and validated for the provider; `status` disables or re-enables it. Audited.',
  auth: 'either',
  request: { params: idParams, body: { schema: patchConnectionSchema, examples: { schedule: { summary: 'Sync every 30 minutes', value: patchConnectionSchema.meta()?.example } } } },
  guard: adminWithinBudget('manage connections'),
  responses: { 200: json('Changed', connectionSchema, limited), ...problems(400, 401, 403, 404, 409, 413, 415, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, params: { id }, body }) => {
    res.json(found(await answeringProblems(() => deps.connections.update(principal.tenantId, id, body, actorOf(principal)))));
  },
});

export const deleteConnection = defineRoute({
  method: 'delete',
  path: '/api/v1/admin/connections/{id}',
  operationId: 'deleteConnection',
  tags: ['integrations'],
  summary: 'Delete a connection and its stored secrets (API key or admin)',
  description: 'Events it imported stay. Audited.',
  auth: 'either',
  request: { params: idParams },
  guard: adminWithinBudget('manage connections'),
  responses: { 204: { description: 'Deleted' }, ...problems(400, 401, 403, 404, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, params: { id } }) => {
    if (!(await deps.connections.remove(principal.tenantId, id, actorOf(principal)))) throw httpErrors.notFound('No such connection');
    res.status(204).end();
  },
});

export const putConnectionCredentials = defineRoute({
  method: 'put',
  path: '/api/v1/admin/connections/{id}/credentials',
  operationId: 'setConnectionCredentials',
  tags: ['integrations'],
  summary: "Store a connection's secrets, write-only (API key or admin)",
  description:
    'Shopify and Stripe take `apiKey`; Etsy takes `clientId` (its keystring); TikTok Shop takes `clientId` (app key) and `clientSecret` (app secret). Sealed with AES-256-GCM; never returned, never logged. Given fields replace the stored ones. The answer shows which kinds are held. Audited (kinds only).',
  auth: 'either',
  request: { params: idParams, body: { schema: connectionCredentialsSchema, examples: { apiKey: { summary: 'A Shopify Admin API access token', value: connectionCredentialsSchema.meta()?.example } } } },
  guard: adminWithinBudget('manage connections'),
  responses: { 200: json('Stored; the connection with its new status', connectionSchema, limited), ...problems(400, 401, 403, 404, 413, 415, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, params: { id }, body }) => {
    res.json(found(await answeringProblems(() => deps.connections.setCredentials(principal.tenantId, id, body, actorOf(principal)))));
  },
});

const redirectUriFor = (deps: ConnectionRouteDeps, req: Request) => `${(deps.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`).replace(/\/+$/, '')}${OAUTH_CALLBACK_PATH}`;

export const authorizeConnection = defineRoute({
  method: 'get',
  path: '/api/v1/admin/connections/{id}/authorize',
  operationId: 'authorizeConnection',
  tags: ['integrations'],
  summary: "Start the provider's OAuth authorization (API key or admin)",
  description:
    `Redirects (302) to the provider's authorize URL with a single-use \`state\` bound to this connection (valid 10 minutes) and, for PKCE providers (Etsy), an S256 \`code_challenge\`. The provider sends the browser back to \`${OAUTH_CALLBACK_PATH}\` (register \`<PUBLIC_URL>${OAUTH_CALLBACK_PATH}\` as the app's redirect URI). \`?redirect=false\` answers 200 with the URL instead. Audited.`,
  auth: 'either',
  request: { params: idParams, query: authorizeQuerySchema },
  guard: adminWithinBudget('authorize connections'),
  responses: {
    302: json("To the provider's authorize URL (also in the body)", authorizeResponseSchema, { headers: { Location: { description: "The provider's authorize URL", schema: { type: 'string' } } } }),
    200: json('The authorize URL (with `redirect=false`)', authorizeResponseSchema, limited),
    ...problems(400, 401, 403, 404, 409, 429),
  },
  handler: (deps: ConnectionRouteDeps) => async ({ req, res, principal, params: { id }, query }) => {
    const started = found(await answeringProblems(() => deps.oauth.begin(principal.tenantId, id, redirectUriFor(deps, req), actorOf(principal))));
    const body = { authorizeUrl: started.authorizeUrl, expiresAt: started.expiresAt.toISOString() };
    res.set('Cache-Control', 'no-store');
    if (query.redirect === 'false') res.json(body);
    else res.status(302).location(started.authorizeUrl).json(body);
  },
});

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

export const oauthCallback = defineRoute({
  method: 'get',
  path: OAUTH_CALLBACK_PATH,
  operationId: 'oauthCallback',
  tags: ['integrations'],
  summary: 'Where providers send the browser back after an authorization',
  description:
    'Takes the `state` once (a reused, expired or unknown state is refused with a 400 saying which), exchanges the `code` at the provider (with the PKCE verifier), stores the tokens sealed and marks the connection active. A provider refusing the code answers 502.',
  auth: 'none',
  request: { query: oauthCallbackQuerySchema },
  responses: {
    200: { description: 'Connected: a short page for the browser', content: { 'text/html': { schema: { type: 'string' }, example: '<!doctype html><title>Connected</title><p>Etsy is connected.</p>' } } },
    ...problems(400),
    502: json("The provider's token endpoint refused the code or failed", problemSchema),
  },
  handler: (deps: Pick<ConnectionRouteDeps, 'oauth' | 'connections'>) => async ({ res, query }) => {
    const done = await answeringProblems(() => deps.oauth.complete(query));
    await deps.connections.authorized(done.connectionId);
    res
      .status(200)
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(`<!doctype html><meta charset="utf-8"><title>Connected</title><p>The connection “${escapeHtml(done.name)}” is authorized. You can close this page.</p>`);
  },
});

export const startConnectionSync = defineRoute({
  method: 'post',
  path: '/api/v1/admin/connections/{id}/sync',
  operationId: 'startConnectionSync',
  tags: ['integrations'],
  summary: 'Sync a connection now (API key or admin)',
  description:
    "Queues a sync in the provider's queue. One sync of a connection runs at a time: asking again while one is queued is the same job, and a sync that finds another running waits for it. It resumes from the connection's checkpoint; the tenant's dashboard sees its `sync:progress`. 409 unless the connection is `active`.",
  auth: 'either',
  request: { params: idParams },
  guard: adminWithinBudget('sync connections'),
  responses: { 202: json('Queued', syncStartedSchema, limited), ...problems(400, 401, 403, 404, 409, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, params: { id } }) => {
    res.status(202).json(found(await answeringProblems(() => deps.connections.startSync(principal.tenantId, id))));
  },
});

export const listUnmatchedRecords = defineRoute({
  method: 'get',
  path: '/api/v1/admin/connections/{id}/unmatched',
  operationId: 'listUnmatchedRecords',
  tags: ['integrations'],
  summary: "Synced records no user matched, newest first (API key or admin)",
  description: "A record is matched by the mapping's `userField` (e.g. the customer's email) against the tenant's user ids. Unmatched records make no event; they are counted on the connection and listed here. Create the user (or change the mapping) and the record's next change counts.",
  auth: 'either',
  request: { params: idParams, query: unmatchedQuerySchema },
  guard: adminWithinBudget('read connections'),
  responses: { 200: json('A page of unmatched records', unmatchedRecordsSchema, limited), ...problems(400, 401, 403, 404, 429) },
  handler: (deps: ConnectionRouteDeps) => async ({ res, principal, params: { id }, query }) => {
    res.json(found(await answeringProblems(() => deps.connections.unmatched(principal.tenantId, id, query))));
  },
});

export const connectionRoutes = [createConnection, listConnections, getConnection, patchConnection, deleteConnection, putConnectionCredentials, authorizeConnection, startConnectionSync, listUnmatchedRecords];
export const oauthRoutes = [oauthCallback];

export function connectionsRouter(deps: ConnectionRouteDeps) {
  return mountRoutes([...connectionRoutes, ...oauthRoutes], deps);
}
