import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../shared/logger.js';
import { errorHandler, notFound } from './middleware/problems.js';
import { requestContext } from './middleware/request-context.js';
import type { ReadinessReport } from './readiness.js';
import { operationsRouter } from './routes/operations.js';

export interface AppDependencies {
  logger: Logger;
  checkReadiness: () => Promise<ReadinessReport>;
  metrics: { registry: Registry; observeRequests: express.RequestHandler };
}

export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestContext(deps.logger));
  app.use(deps.metrics.observeRequests);
  app.use(operationsRouter({ checkReadiness: deps.checkReadiness, metrics: deps.metrics.registry }));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
