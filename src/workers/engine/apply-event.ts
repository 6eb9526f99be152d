import type { EngineRules } from '../../shared/api/rules.js';
import type { Transaction } from '../../shared/db/client.js';
import { zoneAt } from '../../shared/engine/time-zones.js';
import { grantRewards } from '../../shared/repositories/rewards.js';
import type { NewUserUpdate } from '../../shared/repositories/user-updates.js';
import { applyCampaigns } from './campaign-effects.js';
import type { AtRiskCheck } from '../../shared/queues/at-risk.js';
import { inParallel, type EffectContext, type EngineEvent, type LeaderboardScore } from './context.js';
import { applyMissions } from './mission-effects.js';
import { applyRecords } from './record-effects.js';
import { applyStreaks } from './streak-effects.js';

interface ZoneRow {
  timezone: string;
  previous_timezone: string | null;
  timezone_changed_at: string | null;
}

export interface AppliedEvent {
  updates: NewUserUpdate[];
  leaderboard: LeaderboardScore[];
  atRisk: AtRiskCheck[];
}

/**
 * Every effect of one event, inside the caller's transaction: the user's row is locked first,
 * so one user's events apply one at a time (other users' in parallel), then streaks, records,
 * missions and campaigns, then the rewards they earned, each granted once through the ledger.
 */
export async function applyEvent(tx: Transaction, event: EngineEvent, rules: EngineRules, now: Date): Promise<AppliedEvent> {
  const [user] = await tx<ZoneRow[]>`
    update users set last_active_at = greatest(last_active_at, ${event.occurredAt.toISOString()}::timestamptz)
    where id = ${event.userId}
    returning timezone, previous_timezone, timezone_changed_at`;
  if (!user) throw new Error(`user ${event.userId} of event ${event.id} does not exist`);
  const zone = zoneAt(
    { zone: user.timezone, previousZone: user.previous_timezone, changedAt: user.timezone_changed_at ? new Date(user.timezone_changed_at) : null },
    event.occurredAt,
  );
  const context: EffectContext = {
    tx,
    event,
    rules,
    zone,
    countsForItsDay: now.getTime() - event.occurredAt.getTime() <= rules.lateEventGraceHours * 3_600_000,
    updates: [{ event: 'activity:recorded', payload: { eventId: event.id, type: event.type, occurredAt: event.occurredAt.toISOString(), ...(event.value === null ? {} : { value: event.value }) } }],
    grants: [],
    leaderboard: [],
    atRisk: [],
  };
  // Streaks, records, missions and campaigns live in separate tables: their queries go out together.
  await inParallel(context, [applyStreaks, applyRecords, applyMissions, applyCampaigns]);
  for (const payload of await grantRewards(tx, event.userId, context.grants)) context.updates.push({ event: 'reward:granted', payload });
  return { updates: context.updates, leaderboard: context.leaderboard, atRisk: context.atRisk };
}
