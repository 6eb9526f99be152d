import { setTimeout as sleep } from 'node:timers/promises';
import { fusionRuleFor } from '../../contracts/api/rules.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { Sql } from '../../repositories/db/client.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { lastFusedAt } from '../../repositories/signals.js';
import { deliverUpdates } from '../../services/deliveries.js';
import { fuseSignal } from '../../services/signal-fusion.js';
import type { JobHandler } from '../registry.js';

export interface SignalFuseDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
  /** At most one fused result per signal per this many milliseconds. */
  minIntervalMs: number;
}

/**
 * Fuses one signal. Jobs are deduplicated per signal (one waiting, one running: see the relay), so
 * a burst of readings costs a computation per interval, and a reading that arrives while a fusion
 * runs gets one more after it. That one waits out the rest of the interval since the stored
 * result, whichever worker process made it, so the interval holds across processes.
 */
export function createSignalFuseHandler(deps: SignalFuseDeps): JobHandler<'signals.fuse'> {
  return {
    name: 'signals.fuse',
    async handle(scope) {
      const last = await lastFusedAt(deps.sql, scope);
      const wait = last === undefined ? 0 : last.getTime() + deps.minIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      const { rules } = await deps.rules.get(scope.tenantId);
      const { signal, updates } = await fuseSignal(deps.sql, scope, fusionRuleFor(rules, scope.key), new Date());
      if (!signal) return { fused: false };
      if (scope.userId === null) {
        await deps.queues.enqueue('realtime.signal', { tenantId: scope.tenantId, signal }, { removeOnComplete: true });
      } else {
        await deliverUpdates(deps, [{ tenantId: scope.tenantId, userId: scope.userId, updates }]);
      }
      return { fused: true, value: signal.value };
    },
  };
}
