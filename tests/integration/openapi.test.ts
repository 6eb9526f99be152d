import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { BEARER } from '../../src/server/http/define-route.js';
import { declaredRoutes } from '../../src/server/routes/index.js';
import { useTestHub, type TestHub } from '../support/test-env.js';

type Json = Record<string, unknown>;

interface Operation {
  operationId?: string;
  requestBody?: Json;
  responses: Record<string, Json>;
  security?: Record<string, string[]>[];
}

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** Follows a local `$ref` (`#/components/...`); anything else is returned as it is. */
function resolve(document: OpenApiDocument, value: unknown): Json {
  const ref = (value as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string') return value as Json;
  expect(ref.startsWith('#/'), `only local refs: ${ref}`).toBe(true);
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], document);
  expect(target, `unresolved ${ref}`).toBeDefined();
  return resolve(document, target);
}

/** Whether every media type of a request body or response carries an example (its own or its schema's). */
function everyMediaTypeHasExample(document: OpenApiDocument, holder: Json): boolean {
  const content = Object.values((holder.content ?? {}) as Record<string, Json>);
  return (
    content.length > 0 &&
    content.every((media) => {
      if (media.example !== undefined || Object.keys(media.examples ?? {}).length > 0) return true;
      const schema = resolve(document, media.schema);
      return schema.example !== undefined || (Array.isArray(schema.examples) && schema.examples.length > 0);
    })
  );
}

function operations(document: OpenApiDocument): { name: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.has(method))
      .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
  );
}

describe('OpenAPI document and docs UI', () => {
  let hub: TestHub;
  let document: OpenApiDocument;

  const fixture = useTestHub({ role: 'hub' });
  beforeAll(async () => {
    hub = fixture.hub;
    const response = await fetch(`${hub.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    document = (await response.json()) as OpenApiDocument;
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Json);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(document.info).toMatchObject({ title: 'Pulse Hub API', version: expect.stringMatching(/^\d+\.\d+\.\d+/) as unknown });
  });

  it('documents exactly the declared routes, each with its operationId and security', () => {
    const declared = declaredRoutes.map((route) => `${route.method.toUpperCase()} ${route.path}`);
    expect(declared).toContain('POST /api/v1/events');
    expect(new Set(declared).size, 'no route is declared twice').toBe(declared.length);
    expect(operations(document).map((op) => op.name).sort()).toEqual([...declared].sort());
    for (const route of declaredRoutes) {
      const operation = document.paths[route.path]?.[route.method];
      const name = `${route.method.toUpperCase()} ${route.path}`;
      expect(operation, name).toBeDefined();
      expect(operation?.operationId, name).toBe(route.operationId);
      if (route.auth === 'none') expect(operation?.security, `${name} is public`).toBeUndefined();
      else expect(operation?.security, `${name} asks for the bearer credential`).toEqual([{ [BEARER]: [] }]);
    }
    const operationIds = declaredRoutes.map((route) => route.operationId);
    expect(new Set(operationIds).size, 'operationIds are unique').toBe(operationIds.length);
  });

  it('serves every declared route (none answers the app\'s "no route" 404)', async () => {
    for (const route of declaredRoutes) {
      const method = route.method.toUpperCase();
      const path = route.path.replace(/\{\w+\}/g, 'x');
      const response = await fetch(`${hub.url}${path}`, { method });
      const text = await response.text();
      const noRoute = response.status === 404 && text.includes(`No route for ${method} ${path}`);
      expect(noRoute, `${method} ${path} → ${response.status} ${text.slice(0, 200)}`).toBe(false);
    }
  });

  it('has an example for every request body and response', () => {
    for (const { name, operation } of operations(document)) {
      if (operation.requestBody) {
        expect(everyMediaTypeHasExample(document, resolve(document, operation.requestBody)), `${name} request body`).toBe(true);
      }
      const statuses = Object.keys(operation.responses);
      expect(statuses.some((status) => status.startsWith('2')), `${name} has a success response`).toBe(true);
      for (const status of statuses) {
        const response = resolve(document, operation.responses[status]);
        // No Content has, by definition, nothing to exemplify.
        if (status === '204') expect(response.content, `${name} 204 has no body`).toBeUndefined();
        else expect(everyMediaTypeHasExample(document, response), `${name} ${status}`).toBe(true);
      }
    }
  });

  it('documents errors as problem+json and the rate-limit headers of a 429', () => {
    for (const { name, operation } of operations(document)) {
      for (const [status, value] of Object.entries(operation.responses)) {
        if (!status.startsWith('4')) continue;
        const response = resolve(document, value);
        expect(Object.keys(response.content as Json), `${name} ${status}`).toEqual(['application/problem+json']);
        if (status === '429') {
          expect(Object.keys(response.headers as Json).sort(), `${name} 429 headers`).toEqual(
            ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'],
          );
        }
      }
    }
  });

  it('asks for the bearer credential exactly where the API does', () => {
    const secured = operations(document)
      .filter(({ operation }) => (operation.security ?? []).length > 0)
      .map(({ name }) => name)
      .sort();
    expect(secured).toEqual([
      'DELETE /api/v1/admin/campaigns/{key}',
      'DELETE /api/v1/admin/connections/{id}',
      'DELETE /api/v1/feed/items/{id}',
      'DELETE /api/v1/users/{userId}/sessions',
      'GET /api/v1/admin/connections',
      'GET /api/v1/admin/connections/{id}',
      'GET /api/v1/admin/connections/{id}/authorize',
      'GET /api/v1/admin/connections/{id}/unmatched',
      'GET /api/v1/admin/rules',
      'GET /api/v1/boxes/odds',
      'GET /api/v1/campaigns',
      'GET /api/v1/campaigns/{key}',
      'GET /api/v1/campaigns/{key}/leaderboard',
      'GET /api/v1/events',
      'GET /api/v1/me/feed',
      'GET /api/v1/me/feed/preferences',
      'GET /api/v1/me/state',
      'GET /api/v1/signals',
      'GET /api/v1/signals/{key}',
      'GET /api/v1/signals/{key}/history',
      'GET /api/v1/users/{userId}/feed',
      'GET /api/v1/users/{userId}/state',
      'PATCH /api/v1/admin/connections/{id}',
      'POST /api/v1/admin/campaigns',
      'POST /api/v1/admin/connections',
      'POST /api/v1/admin/connections/{id}/sync',
      'POST /api/v1/events',
      'POST /api/v1/feed/items',
      'POST /api/v1/me/boxes/{id}/open',
      'POST /api/v1/signals',
      'POST /api/v1/streams/{name}/messages',
      'POST /api/v1/tokens',
      'POST /api/v1/users/{userId}/streaks/{key}/repair',
      'PUT /api/v1/admin/campaigns/{key}',
      'PUT /api/v1/admin/connections/{id}/credentials',
      'PUT /api/v1/admin/rules',
      'PUT /api/v1/me/feed/preferences',
    ]);
  });

  it('serves Swagger UI at /docs under the default CSP, with no inline script', async () => {
    const page = await fetch(`${hub.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);

    const html = await page.text();
    const scriptTags = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scriptTags.length).toBeGreaterThan(0);
    for (const tag of scriptTags) expect(tag, 'inline scripts would be blocked').toMatch(/\bsrc=/);
    expect(html).not.toMatch(/<script\b[^>]*>\s*[^<\s]/);

    const assets = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)=["']([^"']+)["']/g)].map((match) => new URL(match[1] as string, page.url));
    expect(assets.map((asset) => asset.pathname)).toEqual(
      expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui-init.js']),
    );
    for (const asset of assets) {
      const response = await fetch(asset);
      expect(response.status, asset.pathname).toBe(200);
      const body = await response.text();
      if (asset.pathname.endsWith('/swagger-ui-init.js')) expect(body).toContain('"swaggerUrl": "/openapi.json"');
    }
  });
});
