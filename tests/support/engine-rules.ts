import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import type { Database } from '../../src/repositories/db/client.js';
import { saveRules } from '../../src/repositories/engine-rules.js';

/**
 * Rules under which an event produces only its `activity:recorded` update (no streaks, records
 * or missions): for tests of the delivery path that count updates per event.
 */
export const ACTIVITY_ONLY_RULES = engineRulesSchema.parse({ streaks: [], records: [], missions: { perDay: 0 } });

export async function useActivityOnlyRules(db: Database, tenantId: string): Promise<void> {
  await saveRules(db, tenantId, ACTIVITY_ONLY_RULES, 'test');
}
