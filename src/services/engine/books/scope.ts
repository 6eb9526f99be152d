import type { EngineRules } from '../../../contracts/api/rules.js';
import type { LocalDay } from '../../../domain/calendar.js';

/** What an engine batch touches, so each book reads just that, in one statement or two. */
export interface BatchScope {
  userIds: string[];
  tenantIds: string[];
  /** Each event's user with the local day it happened on, in the zone it is counted in. */
  userDays: { userId: string; day: LocalDay }[];
  /** The earliest and latest event instants. */
  from: Date;
  to: Date;
  rules: ReadonlyMap<string, EngineRules>;
}

export const anyTenantHas = (scope: BatchScope, present: (rules: EngineRules) => boolean): boolean => [...scope.rules.values()].some(present);
