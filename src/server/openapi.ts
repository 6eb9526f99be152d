import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { problemSchema, type Problem } from '../contracts/api/problem.js';
import { MAX_BODY_BYTES } from './app.js';
import { BEARER, problemComponentName, RATE_LIMIT_HEADERS, type AnyRouteDeclaration, type ProblemStatus } from './http/define-route.js';
import { packageVersion } from './package-version.js';
import { declaredRoutes } from './routes/index.js';

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

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
  410: {
    description: 'What the request refers to existed and is gone for good (a feed cursor whose computation was pruned: start again without it)',
    example: { title: 'Gone', code: 'feed_moved_on', detail: 'This page belongs to a feed computation that is no longer kept: start again without a cursor' },
  },
  413: { description: `A body over ${MAX_BODY_BYTES} bytes`, example: { title: 'Payload Too Large', code: 'payload_too_large', detail: 'request entity too large' } },
  415: { description: 'Body not `application/json`', example: { title: 'Unsupported Media Type', code: 'unsupported_media_type', detail: 'Send the body as application/json' } },
  429: {
    description: 'Rate limited (per tenant, user, refresh-token family, or failed authentications per address); retry after `Retry-After` seconds',
    example: { title: 'Too Many Requests', code: 'rate_limited', detail: 'Tenant rate limit exceeded' },
  },
} satisfies Record<ProblemStatus, { description: string; example: Omit<Problem, 'type' | 'status'> }>;

const rateLimitHeaderDocs: Record<(typeof RATE_LIMIT_HEADERS)[number], { description: string; example: number }> = {
  'RateLimit-Limit': { description: 'Requests allowed in the current window', example: 20 },
  'RateLimit-Remaining': { description: 'Requests left in the current window', example: 0 },
  'RateLimit-Reset': { description: 'Seconds until the window resets', example: 1 },
};

/**
 * Registers what the declared routes refer to by name (see define-route.ts): the bearer security
 * scheme, the rate-limit headers, and the problem responses with their headers.
 */
function registerSharedComponents(registry: OpenAPIRegistry): void {
  registry.registerComponent('securitySchemes', BEARER, {
    type: 'http',
    scheme: 'bearer',
    description: 'Tenant API key (`phk_…`) or user access token (JWT)',
  });

  const header = (name: string, description: string, example: number | string) =>
    registry.registerComponent('headers', name, { description, schema: { type: typeof example === 'number' ? 'integer' : 'string' }, example }).ref;
  const rateLimitHeaders = Object.fromEntries(RATE_LIMIT_HEADERS.map((name) => [name, header(name, rateLimitHeaderDocs[name].description, rateLimitHeaderDocs[name].example)]));
  const extraHeaders: Partial<Record<ProblemStatus, Record<string, { $ref: string }>>> = {
    401: { 'WWW-Authenticate': header('WWW-Authenticate', 'The scheme to authenticate with', 'Bearer') },
    429: { 'Retry-After': header('Retry-After', 'Seconds to wait before retrying', 1), ...rateLimitHeaders },
  };
  for (const [key, { description, example }] of Object.entries(problemResponses)) {
    const status = Number(key) as ProblemStatus;
    registry.registerComponent('responses', problemComponentName(status), {
      description,
      headers: extraHeaders[status],
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' }, example: { type: 'about:blank', status, ...example } } },
    });
  }
}

/** The OpenAPI 3.1 document of these routes (by default every declared one), generated from their declarations. */
export function buildOpenApiDocument(routes: readonly AnyRouteDeclaration[] = declaredRoutes): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registerSharedComponents(registry);
  for (const route of routes) route.register(registry);
  // Problem is listed by hand because the problem responses refer to it only by $ref. Not through
  // registry.register, which needs extendZodWithOpenApi, nor as a bare schema, which the generator
  // mistakes for a definition because zod 4 schemas have a `type` property.
  return new OpenApiGeneratorV31([{ type: 'schema', schema: problemSchema }, ...registry.definitions]).generateDocument({
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
      { name: 'signals', description: 'Numeric readings from several sources, fused into one value with its provenance' },
    ],
  });
}
