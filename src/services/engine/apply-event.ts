import type { EngineRules } from '../../contracts/api/rules.js';
import type { AtRiskCheck } from '../at-risk-checks.js';
import type { GrantRequest } from '../../repositories/rewards.js';
import type { NewUserUpdate } from '../../repositories/user-updates.js';
import type { BatchBooks } from './books/batch-books.js';
import { applyCampaigns } from './campaign-effects.js';
import type { EffectContext, EngineEvent, LeaderboardScore } from './context.js';
import { applyMissions } from './mission-effects.js';
import { applyRecords } from './record-effects.js';
import { applyStreaks } from './streak-effects.js';

/** What one event did; its grants are not granted yet (the batch grants them all at once). */
export interface AppliedEvent {
  updates: NewUserUpdate[];
  grants: GrantRequest[];
  leaderboard: LeaderboardScore[];
  atRisk: AtRiskCheck[];
}

/**
 * Every effect of one event on the batch's books, in a fixed order (streaks, records, missions,
 * campaigns), so the user's updates come out in the same order however the batch was formed.
 * The caller holds the user's row lock and applies the user's events one at a time.
 */
export async function applyEvent(books: BatchBooks, event: EngineEvent, rules: EngineRules, zone: string, now: Date): Promise<AppliedEvent> {
  const context: EffectContext = {
    books,
    event,
    rules,
    zone,
    countsForItsDay: now.getTime() - event.occurredAt.getTime() <= rules.lateEventGraceHours * 3_600_000,
    updates: [{ event: 'activity:recorded', payload: { eventId: event.id, type: event.type, occurredAt: event.occurredAt.toISOString(), ...(event.value === null ? {} : { value: event.value }) } }],
    grants: [],
    leaderboard: [],
    atRisk: [],
  };
  await applyStreaks(context);
  applyRecords(context);
  applyMissions(context);
  applyCampaigns(context);
  return { updates: context.updates, grants: context.grants, leaderboard: context.leaderboard, atRisk: context.atRisk };
}
