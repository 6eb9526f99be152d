import type { EngineRules } from '../../contracts/api/rules.js';
import type { GrantRequest } from '../../repositories/rewards.js';
import type { AtRiskCheck } from '../at-risk-checks.js';
import type { NewUserUpdate } from '../../repositories/user-updates.js';
import type { BatchBooks } from './books/batch-books.js';

/** One event as the engine applies it. */
export interface EngineEvent {
  id: string;
  tenantId: string;
  userId: string;
  type: string;
  value: number | null;
  occurredAt: Date;
  /** What feeds read of the event's data (absent when it names no item and no topics). */
  feed?: { itemId?: string; topics?: string[] };
}

/** Leaderboard scores to write once the transaction has committed. */
export interface LeaderboardScore {
  tenantId: string;
  campaignKey: string;
  userId: string;
  points: number;
}

/**
 * What the effects of one event share: the batch's books (read under the users' row locks), the
 * tenant's rules, the zone its day is counted in, and what they produce: updates for the user,
 * rewards to grant, work to do after commit.
 */
export interface EffectContext {
  books: BatchBooks;
  event: EngineEvent;
  rules: EngineRules;
  zone: string;
  /** Within the late-event grace: the event still counts for its own day. */
  countsForItsDay: boolean;
  updates: NewUserUpdate[];
  grants: GrantRequest[];
  leaderboard: LeaderboardScore[];
  atRisk: AtRiskCheck[];
}
