import { Router } from 'express';
import swaggerUi, { type SwaggerUiOptions } from 'swagger-ui-express';
import { buildOpenApiDocument, OPENAPI_PATH } from '../openapi.js';

/** The OpenAPI document and Swagger UI over it. */
export function docsRouter(): Router {
  const router = Router();
  const document = buildOpenApiDocument();
  router.get(OPENAPI_PATH, (_req, res) => {
    res.json(document);
  });

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
