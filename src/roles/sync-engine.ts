import type { AppContext } from './context.js';
import { resolveCredentialVault } from '../platform/secrets.js';
import { errorFields } from '../platform/logger.js';
import { SyncRuns } from '../repositories/sync-runs.js';
import { SyncTelemetry } from '../repositories/sync-telemetry.js';
import { ConnectionService } from '../services/integrations/connections.js';
import { ProviderCircuits } from '../services/integrations/provider-circuits.js';
import { SyncRunner } from '../services/integrations/sync-runner.js';
import { SyncScheduler } from '../services/integrations/sync-scheduler.js';
import { TokenRefreshService } from '../services/integrations/token-refresh.js';

/** Jitter added to a provider's Retry-After, as a share of it. */
const RETRY_AFTER_JITTER = 0.2;
/** Wait when a provider throttles without saying for how long. */
const RETRY_AFTER_DEFAULT_MS = 30_000;

/** The worker role's integration sync engine, assembled from config: the runner its sync jobs call, and the schedules it keeps. */
export async function createSyncRunner(context: AppContext): Promise<{ runner: SyncRunner; reconcileSchedules(): Promise<void> }> {
  const { config, logger } = context;
  const connections = new ConnectionService(context.database.db, await resolveCredentialVault(config), { allowCustomUrls: config.INTEGRATIONS_ALLOW_CUSTOM_URLS });
  const telemetry = new SyncTelemetry(context.redis, config.REDIS_PREFIX);
  const circuits = new ProviderCircuits(
    { failures: config.INTEGRATIONS_CIRCUIT_FAILURES, halfOpenAfterMs: config.INTEGRATIONS_CIRCUIT_HALF_OPEN_MS, attempts: 3, initialDelayMs: 500, maxDelayMs: 10_000 },
    (provider, state) => {
      logger.info('provider circuit changed', { provider, state });
      telemetry.setCircuit(provider, state).catch((error: unknown) => logger.warn('circuit state not stored', errorFields(error)));
    },
  );
  const runner = new SyncRunner(
    {
      runs: new SyncRuns(context.database.sql, config.INTEGRATIONS_SYNC_LEASE_SECONDS * 1000),
      connections,
      tokens: new TokenRefreshService(connections, { marginSeconds: config.INTEGRATIONS_REFRESH_MARGIN_SECONDS, maxFailures: config.INTEGRATIONS_REFRESH_MAX_FAILURES }),
      circuits,
      telemetry,
      publish: async (tenantId, progress) => void (await context.queues.enqueue('realtime.sync', { tenantId, progress }, { removeOnComplete: true, removeOnFail: true, attempts: 1 })),
      logger,
    },
    {
      pageSize: config.INTEGRATIONS_PAGE_SIZE,
      backfillDays: config.INTEGRATIONS_BACKFILL_DAYS,
      throttle: { defaultMs: RETRY_AFTER_DEFAULT_MS, capMs: config.INTEGRATIONS_RETRY_AFTER_MAX_SECONDS * 1000, jitterRatio: RETRY_AFTER_JITTER },
    },
  );
  const scheduler = new SyncScheduler(context.queues, telemetry);
  return { runner, reconcileSchedules: async () => scheduler.reconcile(await connections.store.schedules()) };
}
