import type { OpenAPIRegistry, ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { authenticate, principalOf, type CredentialVerifiers, type Principal } from '../auth/authenticate.js';
import { requireJson } from '../middleware/require-json.js';
import type { RateLimits } from '../rate-limits.js';
import { httpErrors, parseOrThrow } from './errors.js';

/**
 * One declaration per route: `defineRoute` gives Express its handler (with the authentication,
 * media-type check and input parsing the declaration implies) and the OpenAPI document its path.
 * The shared components the declarations refer to by name (security scheme, problem responses,
 * rate-limit headers) are registered by `server/openapi.ts`.
 */

/** Who may call: the tenant API key, a user access token, either (bearer security), or anyone. */
export type RouteAuth = 'apiKey' | 'user' | 'either' | 'none';

type HttpMethod = 'get' | 'post' | 'put' | 'delete' | 'patch';

/** The security scheme every authenticated route names. */
export const BEARER = 'bearerAuth';

/** The problem responses registered as components, by status: the component is named after the title. */
export const PROBLEM_TITLES = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
} as const;

export type ProblemStatus = keyof typeof PROBLEM_TITLES;

export const problemComponentName = (status: ProblemStatus): string => PROBLEM_TITLES[status].replaceAll(' ', '');

/** The rate-limit headers every limited success (and 429) answers with. */
export const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] as const;

const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

/** For `json(..., limited)`: the success response carries the rate-limit headers. */
export const limited = { headers: Object.fromEntries(RATE_LIMIT_HEADERS.map((name) => [name, headerRef(name)])) } satisfies Partial<ResponseConfig>;

/** A JSON response with its schema (whose example documents it). */
export const json = (description: string, schema: z.ZodType, extra: Partial<ResponseConfig> = {}): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
  ...extra,
});

/** The shared problem+json responses of these statuses, by reference. */
export const problems = (...statuses: ProblemStatus[]): Record<number, { $ref: string }> =>
  Object.fromEntries(statuses.map((status) => [status, { $ref: `#/components/responses/${problemComponentName(status)}` }]));

type BodyExamples = Record<string, { summary: string; value: unknown }>;

/**
 * A JSON request body: its schema documents it and, unless `parse` is given, validates it
 * (parseOrThrow); `parse` replaces that validation where a route needs its own error paths.
 */
export interface BodySpec<S extends z.ZodType, T> {
  schema: S;
  examples?: BodyExamples;
  parse?: (value: unknown) => T;
}

type AnyObjectSchema = z.ZodObject;

interface RequestSpec<P extends AnyObjectSchema | undefined, Q extends AnyObjectSchema | undefined, B extends z.ZodType | BodySpec<z.ZodType, unknown> | undefined> {
  params?: P;
  query?: Q;
  body?: B;
}

type ParsedBody<B> = B extends BodySpec<infer S, infer T> ? (unknown extends T ? z.infer<S> : T) : B extends z.ZodType ? z.infer<B> : undefined;
type Parsed<S> = S extends z.ZodType ? z.infer<S> : undefined;

type PrincipalFor<A extends RouteAuth> = A extends 'apiKey'
  ? Extract<Principal, { kind: 'apiKey' }>
  : A extends 'user'
    ? Extract<Principal, { kind: 'user' }>
    : A extends 'either'
      ? Principal
      : undefined;

/** What a handler receives: the request and response, the caller, and the parsed inputs. */
export interface RouteContext<A extends RouteAuth, P, Q, B> {
  req: Request;
  res: Response;
  principal: PrincipalFor<A>;
  params: P;
  query: Q;
  body: B;
}

/** What a guard receives: the request and response and the caller, before any input is parsed. */
export interface GuardContext<A extends RouteAuth> {
  req: Request;
  res: Response;
  principal: PrincipalFor<A>;
}

/** What an authenticated route needs from its dependencies to authenticate. */
export interface AuthDeps {
  verifiers: CredentialVerifiers;
  limits: RateLimits;
}

export interface RouteSpec<
  D,
  A extends RouteAuth,
  P extends AnyObjectSchema | undefined,
  Q extends AnyObjectSchema | undefined,
  B extends z.ZodType | BodySpec<z.ZodType, unknown> | undefined,
> {
  method: HttpMethod;
  /** OpenAPI style: `/api/v1/campaigns/{key}` (mounted in Express as `/api/v1/campaigns/:key`). */
  path: `/${string}`;
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  auth: A;
  /** The 403 detail when the credential is of the other kind (auth `apiKey` or `user`). */
  forbidden?: string;
  /**
   * Runs after authentication and before the inputs are parsed: role checks and rate-limit budgets
   * go here, so a caller without the right (or out of budget) is told so before its input is judged,
   * and a refused request costs no parsing.
   */
  guard?: (deps: D) => (context: GuardContext<A>) => Promise<void> | void;
  request?: RequestSpec<P, Q, B>;
  responses: RouteConfig['responses'];
  /** Given the router's dependencies, the handler; it sends the answer through `res`. */
  handler: (deps: D) => (context: RouteContext<A, Parsed<P>, Parsed<Q>, ParsedBody<B>>) => Promise<void> | void;
}

/** A declared route: what the document and the tests read, and how to mount it. */
export interface RouteDeclaration<D> {
  readonly method: HttpMethod;
  /** The OpenAPI path. */
  readonly path: string;
  /** The Express path. */
  readonly expressPath: string;
  readonly operationId: string;
  readonly auth: RouteAuth;
  /** Adds the path to the OpenAPI registry. */
  register(registry: OpenAPIRegistry): void;
  /** Adds the route, with its middleware, to an Express router. */
  mount(router: Router, deps: D): void;
}

/** Any declaration, whatever its dependencies: for documents and lists. */
export type AnyRouteDeclaration = RouteDeclaration<never>;

const isBodySpec = (body: z.ZodType | BodySpec<z.ZodType, unknown>): body is BodySpec<z.ZodType, unknown> => 'schema' in body && !('safeParse' in body);

export function defineRoute<
  D extends A extends 'none' ? unknown : AuthDeps,
  A extends RouteAuth,
  P extends AnyObjectSchema | undefined = undefined,
  Q extends AnyObjectSchema | undefined = undefined,
  B extends z.ZodType | BodySpec<z.ZodType, unknown> | undefined = undefined,
>(spec: RouteSpec<D, A, P, Q, B>): RouteDeclaration<D> {
  const { params, query, body } = spec.request ?? {};
  const bodySpec: BodySpec<z.ZodType, unknown> | undefined = body === undefined ? undefined : isBodySpec(body) ? body : { schema: body };
  const expressPath = spec.path.replace(/\{(\w+)\}/g, ':$1');

  return {
    method: spec.method,
    path: spec.path,
    expressPath,
    operationId: spec.operationId,
    auth: spec.auth,

    register(registry) {
      registry.registerPath({
        method: spec.method,
        path: spec.path,
        operationId: spec.operationId,
        tags: spec.tags,
        summary: spec.summary,
        ...(spec.description === undefined ? {} : { description: spec.description }),
        ...(spec.auth === 'none' ? {} : { security: [{ [BEARER]: [] }] }),
        ...(params || query || bodySpec
          ? {
              request: {
                ...(params ? { params } : {}),
                ...(query ? { query } : {}),
                ...(bodySpec ? { body: { required: true, content: { 'application/json': { schema: bodySpec.schema, examples: bodySpec.examples } } } } : {}),
              },
            }
          : {}),
        responses: spec.responses,
      });
    },

    mount(router, deps) {
      const middleware: RequestHandler[] = [];
      if (spec.auth !== 'none') {
        const { verifiers, limits } = deps as AuthDeps;
        middleware.push(authenticate(verifiers, limits));
      }
      if (bodySpec) middleware.push(requireJson);
      const handle = spec.handler(deps);
      const guard = spec.guard?.(deps);
      const parseBody = bodySpec?.parse ?? ((value: unknown) => parseOrThrow(bodySpec?.schema as z.ZodType, value));
      router[spec.method](expressPath, ...middleware, async (req: Request, res: Response) => {
        let principal: Principal | undefined;
        if (spec.auth !== 'none') {
          principal = principalOf(res);
          if ((spec.auth === 'apiKey' || spec.auth === 'user') && principal.kind !== spec.auth) {
            throw httpErrors.forbidden(spec.forbidden ?? (spec.auth === 'apiKey' ? 'Only the tenant API key may call this' : 'Only a user token may call this'));
          }
        }
        if (guard) await guard({ req, res, principal } as GuardContext<A>);
        const context = {
          req,
          res,
          principal,
          params: params ? parseOrThrow(params, req.params) : undefined,
          query: query ? parseOrThrow(query, req.query) : undefined,
          body: bodySpec ? parseBody(req.body) : undefined,
        } as RouteContext<A, Parsed<P>, Parsed<Q>, ParsedBody<B>>;
        await handle(context);
      });
    },
  };
}

/** A router serving these declared routes. */
export function mountRoutes<D>(routes: readonly RouteDeclaration<D>[], deps: D): Router {
  const router = Router();
  for (const route of routes) route.mount(router, deps);
  return router;
}
