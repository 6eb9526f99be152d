import type { EngineRules } from '../../shared/api/rules.js';
import type { Transaction } from '../../shared/db/client.js';
import type { GrantRequest } from '../../shared/repositories/rewards.js';
import type { AtRiskCheck } from '../../shared/queues/at-risk.js';
import type { NewUserUpdate } from '../../shared/repositories/user-updates.js';

/** One event as the engine applies it. */
export interface EngineEvent {
  id: string;
  tenantId: string;
  userId: string;
  type: string;
  value: number | null;
  occurredAt: Date;
}

/** Leaderboard scores to write once the transaction has committed. */
export interface LeaderboardScore {
  tenantId: string;
  campaignKey: string;
  userId: string;
  points: number;
}

/**
 * What the effects of one event share: its transaction (with the user's row locked), the
 * tenant's rules, the zone its day is counted in, and what they produce: updates for the user,
 * rewards to grant, work to do after commit.
 */
export interface EffectContext {
  tx: Transaction;
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

export type Effect = (context: EffectContext) => Promise<void>;

/**
 * Runs effects that touch separate rows side by side: postgres.js pipelines their queries on the
 * transaction's connection, so they cost the round trips of the longest one, not of all. Each
 * collects into lists of its own, merged afterwards in the order given, so the user's updates keep
 * one order whatever order the answers come back in.
 */
export async function inParallel(context: EffectContext, effects: Effect[]): Promise<void> {
  const parts = await Promise.all(
    effects.map(async (effect) => {
      const part: EffectContext = { ...context, updates: [], grants: [], leaderboard: [], atRisk: [] };
      await effect(part);
      return part;
    }),
  );
  for (const part of parts) {
    context.updates.push(...part.updates);
    context.grants.push(...part.grants);
    context.leaderboard.push(...part.leaderboard);
    context.atRisk.push(...part.atRisk);
  }
}
