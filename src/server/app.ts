import cors from 'cors';
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import type { Registry } from 'prom-client';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { refuseOversizedBodies } from './middleware/body-limit.js';
import { inputGuard } from './middleware/input-guard.js';
import { errorHandler, notFound } from './middleware/problems.js';
import { requestContext } from './middleware/request-context.js';
import type { ReadinessReport } from './readiness.js';
import { operationsRouter } from './routes/operations.js';

export interface AppDependencies {
  config: Pick<Config, 'CORS_ORIGINS'>;
  logger: Logger;
  checkReadiness: () => Promise<ReadinessReport>;
  metrics: { registry: Registry; observeRequests: express.RequestHandler };
  /** API routers, mounted after the common middleware. */
  routers: Router[];
}

/** Request bodies above this are refused with 413 before any parsing work (by their Content-Length, for every route). */
export const MAX_BODY_BYTES = 1024 * 1024;

export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  // API answers are not cached by validators; hashing every body for an ETag is wasted work.
  app.disable('etag');
  app.set('trust proxy', 'loopback');
  app.use(requestContext(deps.logger));
  app.use(deps.metrics.observeRequests);
  app.use(helmet());
  app.use(cors({ origin: deps.config.CORS_ORIGINS, exposedHeaders: ['X-Request-Id', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] }));
  // Before every route, those that read no body included (see refuseOversizedBodies).
  app.use(refuseOversizedBodies(MAX_BODY_BYTES));
  app.use(operationsRouter({ checkReadiness: deps.checkReadiness, metrics: deps.metrics.registry }));
  app.use(express.json({ limit: MAX_BODY_BYTES }));
  // Bounds nesting and refuses unstorable strings in the path, query and body before any route runs.
  app.use(inputGuard);
  for (const router of deps.routers) app.use(router);
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
