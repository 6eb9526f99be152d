import type { Registry } from 'prom-client';
import { z } from 'zod';
import { defineRoute, json, mountRoutes } from '../http/define-route.js';
import type { ReadinessReport } from '../readiness.js';

export interface OperationsRouteDeps {
  checkReadiness: () => Promise<ReadinessReport>;
  metrics: Registry;
}

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

// Liveness, readiness and Prometheus metrics: what orchestrators and operators poll.

export const getHealth = defineRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'getHealth',
  tags: ['operations'],
  summary: 'Liveness: the process is up',
  auth: 'none',
  responses: { 200: json('The process is alive', healthSchema) },
  handler: () => ({ res }) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  },
});

export const getReadiness = defineRoute({
  method: 'get',
  path: '/readyz',
  operationId: 'getReadiness',
  tags: ['operations'],
  summary: 'Readiness: Postgres and Redis answer',
  auth: 'none',
  responses: {
    200: json('Every dependency answered in time', readinessReportSchema),
    503: {
      description: 'At least one dependency is failing (named in `failing`)',
      content: { 'application/json': { schema: readinessReportSchema, example: unavailableExample } },
    },
  },
  handler: (deps: OperationsRouteDeps) => async ({ res }) => {
    const report = await deps.checkReadiness();
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  },
});

export const getMetrics = defineRoute({
  method: 'get',
  path: '/metrics',
  operationId: 'getMetrics',
  tags: ['operations'],
  summary: 'Prometheus metrics',
  auth: 'none',
  responses: { 200: { description: 'Process, HTTP, Socket.IO and queue metrics', content: { 'text/plain': { schema: prometheusTextSchema } } } },
  handler: (deps: OperationsRouteDeps) => async ({ res }) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  },
});

export const operationRoutes = [getHealth, getReadiness, getMetrics];

/** Mounted before the body parser: none of these routes reads a body. */
export function operationsRouter(deps: OperationsRouteDeps) {
  return mountRoutes(operationRoutes, deps);
}
