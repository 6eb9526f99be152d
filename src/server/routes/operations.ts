import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { ReadinessReport } from '../readiness.js';

/** Liveness, readiness and Prometheus metrics: what orchestrators and operators poll. */
export function operationsRouter(deps: { checkReadiness: () => Promise<ReadinessReport>; metrics: Registry }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await deps.checkReadiness();
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });
  return router;
}
