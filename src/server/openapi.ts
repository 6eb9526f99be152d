import { readFileSync } from 'node:fs';
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { eventPageSchema, ingestRequestSchema, ingestResponseSchema, listEventsQuerySchema } from '../contracts/api/events.js';
import { problemSchema, type Problem } from '../contracts/api/problem.js';
import { boxOddsSchema, openedBoxSchema } from '../contracts/api/boxes.js';
import { CAMPAIGN_KEY, campaignInputSchema, campaignListSchema, campaignSchema, leaderboardQuerySchema, leaderboardSchema } from '../contracts/api/campaigns.js';
import { externalUserId } from '../contracts/api/common.js';
import { DEFAULT_ENGINE_RULES, engineRulesResponseSchema, engineRulesSchema, ruleKey } from '../contracts/api/rules.js';
import { userStateSchema } from '../contracts/api/state.js';
import { MAX_REPAIR_DAYS, streakRepairRequestSchema, streakRepairResponseSchema } from '../contracts/api/streaks.js';
import { createTokenRequestSchema, refreshTokenRequestSchema, tokenPairSchema } from '../contracts/api/tokens.js';
import { MAX_BODY_BYTES } from './app.js';
import type { ReadinessReport } from './readiness.js';
import { publishStreamMessage } from './routes/streams.js';

export const OPENAPI_PATH = '/openapi.json';

type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

// Read at run time rather than imported: tsconfig.build.json's rootDir is src/, and the path
// resolves to the app root both from src/server (tsx) and from dist/server (the image).
const packageVersion = z
  .object({ version: z.string() })
  .parse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))).version;

const healthSchema = z
  .object({ status: z.literal('ok'), uptimeSeconds: z.number().int() })
  .meta({ id: 'Health', example: { status: 'ok', uptimeSeconds: 3600 } });

const dependencyStatusSchema = z.object({
  status: z.enum(['ok', 'failing']),
  latencyMs: z.number().int(),
  error: z.string().optional(),
});

// `satisfies` ties this documentation-only schema to the type the route really sends.
const readinessReportSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    failing: z.array(z.enum(['postgres', 'redis'])),
    checks: z.object({ postgres: dependencyStatusSchema, redis: dependencyStatusSchema }),
  })
  .meta({
    id: 'ReadinessReport',
    example: { status: 'ok', failing: [], checks: { postgres: { status: 'ok', latencyMs: 2 }, redis: { status: 'ok', latencyMs: 1 } } },
  }) satisfies z.ZodType<ReadinessReport>;

const unavailableExample: ReadinessReport = {
  status: 'unavailable',
  failing: ['redis'],
  checks: { postgres: { status: 'ok', latencyMs: 2 }, redis: { status: 'failing', latencyMs: 2000, error: 'no answer within 2000 ms' } },
};

const prometheusTextSchema = z.string().meta({
  description: 'Prometheus text exposition format',
  example: [
    '# HELP http_request_duration_seconds HTTP request duration by route and status',
    '# TYPE http_request_duration_seconds histogram',
    'http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 12',
    '',
  ].join('\n'),
});

const openApiDocumentSchema = z
  .object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }).loose(), paths: z.record(z.string(), z.unknown()) })
  .loose()
  .meta({ id: 'OpenApiDocument', example: { openapi: '3.1.0', info: { title: 'Pulse Hub API', version: packageVersion }, paths: {} } });

const eventBatchExample = {
  events: [
    { type: 'workout.completed', userId: 'user-42', value: 42.5, idempotencyKey: 'run-2026-11-22-user-42' },
    { type: 'app.opened', userId: 'user-7', occurredAt: '2026-11-22T08:30:00Z' },
  ],
};

/**
 * Every 4xx the routes answer, with an example body (its `type` and `status` are filled in at
 * registration). The response component is named after the title: `Too Many Requests` → `TooManyRequests`.
 */
const problemResponses = {
  400: { description: 'Malformed JSON, or fields that fail validation (listed in `errors`)', example: problemSchema.meta()?.example as Problem },
  401: { description: 'Missing, invalid or expired credentials', example: { title: 'Unauthorized', code: 'token_expired', detail: 'access token expired' } },
  403: { description: 'Valid credentials that do not allow this', example: { title: 'Forbidden', code: 'forbidden', detail: 'A member may only post events for itself' } },
  404: { description: 'No such resource in this tenant', example: { title: 'Not Found', code: 'not_found', detail: 'No such user in this tenant' } },
  409: { description: 'The request conflicts with the current configuration', example: { title: 'Conflict', code: 'conflict', detail: 'The box table "gold" is no longer defined' } },
  413: { description: `A body over ${MAX_BODY_BYTES} bytes`, example: { title: 'Payload Too Large', code: 'payload_too_large', detail: 'request entity too large' } },
  415: { description: 'Body not `application/json`', example: { title: 'Unsupported Media Type', code: 'unsupported_media_type', detail: 'Send the body as application/json' } },
  429: {
    description: 'Rate limited (per tenant, user, refresh-token family, or failed authentications per address); retry after `Retry-After` seconds',
    example: { title: 'Too Many Requests', code: 'rate_limited', detail: 'Tenant rate limit exceeded' },
  },
} satisfies Record<number, { description: string; example: Omit<Problem, 'type' | 'status'> }>;

type ProblemStatus = keyof typeof problemResponses;

const BEARER = 'bearerAuth';

/** Registers the shared components and every route; called once by buildOpenApiDocument. */
function registerApi(registry: OpenAPIRegistry): void {
  registry.registerComponent('securitySchemes', BEARER, {
    type: 'http',
    scheme: 'bearer',
    description: 'Tenant API key (`phk_…`) or user access token (JWT)',
  });

  const header = (name: string, description: string, example: number | string) =>
    registry.registerComponent('headers', name, { description, schema: { type: typeof example === 'number' ? 'integer' : 'string' }, example }).ref;
  const rateLimitHeaders = {
    'RateLimit-Limit': header('RateLimit-Limit', 'Requests allowed in the current window', 20),
    'RateLimit-Remaining': header('RateLimit-Remaining', 'Requests left in the current window', 0),
    'RateLimit-Reset': header('RateLimit-Reset', 'Seconds until the window resets', 1),
  };
  const extraHeaders: Partial<Record<ProblemStatus, Record<string, { $ref: string }>>> = {
    401: { 'WWW-Authenticate': header('WWW-Authenticate', 'The scheme to authenticate with', 'Bearer') },
    429: { 'Retry-After': header('Retry-After', 'Seconds to wait before retrying', 1), ...rateLimitHeaders },
  };
  const problemRefs = Object.fromEntries(
    Object.entries(problemResponses).map(([key, { description, example }]) => {
      const status = Number(key) as ProblemStatus;
      return [
        status,
        registry.registerComponent('responses', example.title.replaceAll(' ', ''), {
          description,
          headers: extraHeaders[status],
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' }, example: { type: 'about:blank', status, ...example } } },
        }).ref,
      ];
    }),
  ) as Record<ProblemStatus, { $ref: string }>;
  const problems = (...statuses: ProblemStatus[]) => Object.fromEntries(statuses.map((status) => [status, problemRefs[status]]));

  const json = (description: string, schema: z.ZodType, extra: Partial<ResponseConfig> = {}): ResponseConfig => ({
    description,
    content: { 'application/json': { schema } },
    ...extra,
  });
  const jsonBody = (schema: z.ZodType, examples?: Record<string, { summary: string; value: unknown }>) => ({
    required: true,
    content: { 'application/json': { schema, examples } },
  });
  const route = (config: RouteConfig & { operationId: string; summary: string }) => registry.registerPath(config);
  const authenticated = { security: [{ [BEARER]: [] }] };
  const limited = { headers: rateLimitHeaders };

  route({
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tags: ['operations'],
    summary: 'Liveness: the process is up',
    responses: { 200: json('The process is alive', healthSchema) },
  });
  route({
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tags: ['operations'],
    summary: 'Readiness: Postgres and Redis answer',
    responses: {
      200: json('Every dependency answered in time', readinessReportSchema),
      503: {
        description: 'At least one dependency is failing (named in `failing`)',
        content: { 'application/json': { schema: readinessReportSchema, example: unavailableExample } },
      },
    },
  });
  route({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags: ['operations'],
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Process, HTTP, Socket.IO and queue metrics', content: { 'text/plain': { schema: prometheusTextSchema } } } },
  });
  route({
    method: 'get',
    path: OPENAPI_PATH,
    operationId: 'getOpenApiDocument',
    tags: ['operations'],
    summary: 'This OpenAPI document (interactive docs at /docs)',
    responses: { 200: json('The OpenAPI 3.1 document', openApiDocumentSchema) },
  });

  route({
    method: 'post',
    path: '/api/v1/tokens',
    operationId: 'createToken',
    tags: ['tokens'],
    summary: "Mint a token pair for one of the tenant's users",
    description: 'Creates the user on first use and updates its profile otherwise. Only the tenant API key may call this.',
    ...authenticated,
    request: { body: jsonBody(createTokenRequestSchema) },
    responses: { 201: json('A new access and refresh token for the user', tokenPairSchema, limited), ...problems(400, 401, 403, 413, 415, 429) },
  });
  route({
    method: 'post',
    path: '/api/v1/tokens/refresh',
    operationId: 'refreshToken',
    tags: ['tokens'],
    summary: 'Rotate a refresh token',
    description: 'The refresh token is single-use: presenting a rotated one again revokes its whole family.',
    request: { body: jsonBody(refreshTokenRequestSchema) },
    responses: { 200: json('A new token pair; the old refresh token is spent', tokenPairSchema, limited), ...problems(400, 401, 415, 429) },
  });
  route({
    method: 'post',
    path: '/api/v1/tokens/revoke',
    operationId: 'revokeToken',
    tags: ['tokens'],
    summary: 'Sign out: end the login a refresh token belongs to',
    description:
      "Revokes the refresh token's whole family; the login's access tokens stop working at once and its sockets receive `session:expired` (`session_revoked`) and are disconnected on every hub node. An unknown token is not an error (RFC 7009), but counts as a failed authentication.",
    request: { body: jsonBody(refreshTokenRequestSchema) },
    responses: { 204: { description: 'Revoked, or nothing to revoke' }, ...problems(400, 415, 429) },
  });
  route({
    method: 'delete',
    path: '/api/v1/users/{userId}/sessions',
    operationId: 'revokeUserSessions',
    tags: ['tokens'],
    summary: "End every login of one of the tenant's users",
    description: 'API key or admin token. Refresh tokens, access tokens and sockets of the user stop working at once, on every hub node.',
    ...authenticated,
    request: { params: z.object({ userId: externalUserId }) },
    responses: {
      200: json('How many logins were ended', z.object({ revokedSessions: z.number().int().min(0) }).meta({ id: 'RevokedSessions', example: { revokedSessions: 2 } }), limited),
      ...problems(400, 401, 403, 404, 429),
    },
  });

  route({
    method: 'post',
    path: '/api/v1/events',
    operationId: 'ingestEvents',
    tags: ['events'],
    summary: 'Record one event or a batch',
    description:
      'All or nothing. With an API key every event names its `userId`; with a user token events default to that user, and only an admin may name another.',
    ...authenticated,
    request: {
      body: jsonBody(ingestRequestSchema, {
        single: { summary: 'One event', value: ingestRequestSchema.meta()?.example },
        batch: { summary: 'A batch of events', value: eventBatchExample },
      }),
    },
    responses: {
      202: json('Accepted; an event whose idempotency key was already seen is reported as a duplicate', ingestResponseSchema, limited),
      ...problems(400, 401, 403, 413, 415, 429),
    },
  });
  route({
    method: 'get',
    path: '/api/v1/events',
    operationId: 'listEvents',
    tags: ['events'],
    summary: 'List events, oldest first',
    description: 'An API key or an admin sees the whole tenant; a member sees only its own events.',
    ...authenticated,
    request: { query: listEventsQuerySchema },
    responses: { 200: json('One page of events; pass `next` as `after` for the following page', eventPageSchema, limited), ...problems(400, 401, 403, 429) },
  });
  publishStreamMessage.register(registry);

  route({
    method: 'get',
    path: '/api/v1/boxes/odds',
    operationId: 'getBoxOdds',
    tags: ['engagement'],
    summary: "The tenant's published mystery box odds",
    description: 'Per box table: odds per rarity in percent, the pity rule and the points each rarity holds, and how rolls are derived.',
    ...authenticated,
    responses: { 200: json('The odds', boxOddsSchema, limited), ...problems(401, 429) },
  });
  route({
    method: 'post',
    path: '/api/v1/me/boxes/{id}/open',
    operationId: 'openBox',
    tags: ['engagement'],
    summary: 'Open one of your mystery boxes',
    description:
      'Idempotent: a box opens once; opening it again answers the stored result with 200. The roll is stored with every input (HMAC, uniform, odds, pity count) so it can be re-verified. The points go to the ledger once and `box:opened` is pushed to the user.',
    ...authenticated,
    request: { params: z.object({ id: z.uuid() }) },
    responses: {
      201: json('Opened now', openedBoxSchema, limited),
      200: json('Opened before: the stored result', openedBoxSchema, limited),
      ...problems(400, 401, 403, 404, 409, 429),
    },
  });

  const campaignKey = z.object({ key: z.string().regex(CAMPAIGN_KEY).meta({ example: 'winter-2026' }) });
  route({
    method: 'get',
    path: '/api/v1/campaigns',
    operationId: 'listCampaigns',
    tags: ['campaigns'],
    summary: "The tenant's campaigns",
    ...authenticated,
    responses: { 200: json('Every campaign, by start', campaignListSchema, limited), ...problems(401, 429) },
  });
  route({
    method: 'get',
    path: '/api/v1/campaigns/{key}',
    operationId: 'getCampaign',
    tags: ['campaigns'],
    summary: 'One campaign',
    ...authenticated,
    request: { params: campaignKey },
    responses: { 200: json('The campaign', campaignSchema, limited), ...problems(400, 401, 404, 429) },
  });
  route({
    method: 'get',
    path: '/api/v1/campaigns/{key}/leaderboard',
    operationId: 'getLeaderboard',
    tags: ['campaigns'],
    summary: "A campaign's leaderboard, with the caller's own rank",
    description: 'From a Redis sorted set kept by the engine; rebuilt from Postgres when missing. `me` is null for the API key and for users without points.',
    ...authenticated,
    request: { params: campaignKey, query: leaderboardQuerySchema },
    responses: { 200: json('The top entries and the caller', leaderboardSchema, limited), ...problems(400, 401, 404, 429) },
  });
  route({
    method: 'post',
    path: '/api/v1/admin/campaigns',
    operationId: 'createCampaign',
    tags: ['admin'],
    summary: 'Create a campaign (API key or admin)',
    description: 'Events inside [startsAt, endsAt) earn the points of their type (or of `*`); reaching a tier grants its reward once. Audited.',
    ...authenticated,
    request: { body: jsonBody(campaignInputSchema) },
    responses: { 201: json('Created', campaignSchema, limited), ...problems(400, 401, 403, 409, 413, 415, 429) },
  });
  route({
    method: 'put',
    path: '/api/v1/admin/campaigns/{key}',
    operationId: 'replaceCampaign',
    tags: ['admin'],
    summary: 'Replace a campaign (API key or admin)',
    description: 'Points and tiers already earned are kept. Audited.',
    ...authenticated,
    request: { params: campaignKey, body: jsonBody(campaignInputSchema) },
    responses: { 200: json('Replaced', campaignSchema, limited), ...problems(400, 401, 403, 404, 413, 415, 429) },
  });
  route({
    method: 'delete',
    path: '/api/v1/admin/campaigns/{key}',
    operationId: 'deleteCampaign',
    tags: ['admin'],
    summary: 'Delete a campaign and its progress (API key or admin)',
    description: 'Rewards already granted stay in the ledger. Audited.',
    ...authenticated,
    request: { params: campaignKey },
    responses: { 204: { description: 'Deleted' }, ...problems(400, 401, 403, 404, 429) },
  });

  const stateDescription =
    'Streaks (as of today in the user\'s time zone), personal records, today\'s missions, points, badges, boxes and running campaigns, read in one snapshot with `seq`, the latest update it reflects: apply live updates with a higher seq on top.';
  route({
    method: 'get',
    path: '/api/v1/me/state',
    operationId: 'getMyState',
    tags: ['engagement'],
    summary: "The calling user's engagement state",
    description: stateDescription,
    ...authenticated,
    responses: { 200: json('The snapshot', userStateSchema, limited), ...problems(401, 403, 404, 429) },
  });
  route({
    method: 'get',
    path: '/api/v1/users/{userId}/state',
    operationId: 'getUserState',
    tags: ['engagement'],
    summary: "A user's engagement state (API key or admin)",
    description: stateDescription,
    ...authenticated,
    request: { params: z.object({ userId: externalUserId }) },
    responses: { 200: json('The snapshot', userStateSchema, limited), ...problems(401, 403, 404, 429) },
  });
  route({
    method: 'post',
    path: '/api/v1/users/{userId}/streaks/{key}/repair',
    operationId: 'repairStreak',
    tags: ['admin'],
    summary: "Credit missed days to a user's streak (API key or admin)",
    description: `Days are local days in the user's time zone, up to ${MAX_REPAIR_DAYS} per call, none after the user's today. The streak is recomputed from all its days as if events had come on them; milestones it now reaches are granted once; the user gets \`streak:updated\` (with \`repairedDays\`) and \`reward:granted\` live. Days that already counted change nothing. Every call is audited (\`streak.repaired\`, with the reason).`,
    ...authenticated,
    request: { params: z.object({ userId: externalUserId, key: ruleKey }), body: jsonBody(streakRepairRequestSchema) },
    responses: { 200: json('The streak after the repair', streakRepairResponseSchema, limited), ...problems(400, 401, 403, 404, 413, 415, 429) },
  });
  route({
    method: 'get',
    path: '/api/v1/admin/rules',
    operationId: 'getEngineRules',
    tags: ['admin'],
    summary: "The tenant's engine rules (API key or admin)",
    description: 'Streak definitions, personal record metrics, daily mission templates, box tables, the late-event grace and the at-risk hour. Version 0 means the tenant runs on the defaults.',
    ...authenticated,
    responses: { 200: json('The rules in force', engineRulesResponseSchema, limited), ...problems(401, 403, 429) },
  });
  route({
    method: 'put',
    path: '/api/v1/admin/rules',
    operationId: 'replaceEngineRules',
    tags: ['admin'],
    summary: "Replace the tenant's engine rules (API key or admin)",
    description: 'The whole document is validated (omitted fields take their defaults) and audited; workers apply it within about 5 seconds. Rewards may name only box tables the document defines.',
    ...authenticated,
    request: { body: jsonBody(engineRulesSchema, { defaults: { summary: 'The defaults', value: DEFAULT_ENGINE_RULES } }) },
    responses: { 200: json('The stored rules and their new version', engineRulesResponseSchema, limited), ...problems(400, 401, 403, 413, 415, 429) },
  });
}

let cached: OpenApiDocument | undefined;

/** The API's OpenAPI 3.1 document, generated from the zod contract schemas (once: it is static). */
export function buildOpenApiDocument(): OpenApiDocument {
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  registerApi(registry);
  // Problem is listed by hand because the problem responses refer to it only by $ref. Not through
  // registry.register, which needs extendZodWithOpenApi, nor as a bare schema, which the generator
  // mistakes for a definition because zod 4 schemas have a `type` property.
  cached = new OpenApiGeneratorV31([{ type: 'schema', schema: problemSchema }, ...registry.definitions]).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Pulse Hub API',
      version: packageVersion,
      description:
        'Real-time engagement hub. Errors are RFC 9457 problem details (`application/problem+json`); every response echoes an `X-Request-Id`.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'operations', description: 'Health, readiness, metrics and this document' },
      { name: 'tokens', description: 'Access and refresh tokens for tenant users' },
      { name: 'events', description: 'Event ingestion and listing' },
    ],
  });
  return cached;
}
