import swaggerUi, { type SwaggerUiOptions } from 'swagger-ui-express';
import { z } from 'zod';
import { defineRoute, json, mountRoutes } from '../http/define-route.js';
import { packageVersion } from '../package-version.js';

export const OPENAPI_PATH = '/openapi.json';

/**
 * What the docs routes serve. The document is built (server/openapi.ts) from every declared route,
 * this one included, so it comes in as a dependency rather than an import.
 */
export interface DocsRouteDeps {
  openApiDocument: object;
}

const openApiDocumentSchema = z
  .object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }).loose(), paths: z.record(z.string(), z.unknown()) })
  .loose()
  .meta({ id: 'OpenApiDocument', example: { openapi: '3.1.0', info: { title: 'Pulse Hub API', version: packageVersion }, paths: {} } });

export const getOpenApiDocument = defineRoute({
  method: 'get',
  path: OPENAPI_PATH,
  operationId: 'getOpenApiDocument',
  tags: ['operations'],
  summary: 'This OpenAPI document (interactive docs at /docs)',
  auth: 'none',
  responses: { 200: json('The OpenAPI 3.1 document', openApiDocumentSchema) },
  handler: (deps: DocsRouteDeps) => ({ res }) => {
    res.json(deps.openApiDocument);
  },
});

export const docsRoutes = [getOpenApiDocument];

/** The OpenAPI document and Swagger UI over it. */
export function docsRouter(deps: DocsRouteDeps) {
  const router = mountRoutes(docsRoutes, deps);
  const options: SwaggerUiOptions = {
    customSiteTitle: 'Pulse Hub API',
    swaggerUrl: OPENAPI_PATH,
    // The online validator badge is an image from another origin: helmet's img-src would block it.
    swaggerOptions: { validatorUrl: null },
  };
  // serveFiles rather than `serve`: it gives this router its own swagger-ui-init.js instead of the
  // module-wide one that the last setup() call overwrites. Every script the page loads, that init
  // script included, is a file under /docs/, so the default CSP (script-src 'self') is enough.
  router.use('/docs', swaggerUi.serveFiles(undefined, options), swaggerUi.setup(undefined, options));
  return router;
}
