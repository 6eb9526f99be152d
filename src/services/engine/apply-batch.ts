import type { EngineRules } from '../../contracts/api/rules.js';
import { pgArrayType, type Sql, type Transaction } from '../../repositories/db/client.js';
import type { SqlPick } from '../../repositories/db/rows.js';
import type { processedEvents } from '../../repositories/db/schema.js';
import { localDay } from '../../domain/calendar.js';
import { zoneAt } from '../../domain/time-zones.js';
import type { AtRiskCheck } from '../at-risk-checks.js';
import { inUserTransaction, type LockedUser } from '../user-locks.js';
import type { JobPayload } from '../../contracts/queues.js';
import { grantRewards } from '../../repositories/rewards.js';
import { appendUpdates } from '../../repositories/user-updates.js';
import type { UserUpdate } from '../../contracts/socket/user-updates.js';
import { applyEvent, type AppliedEvent } from './apply-event.js';
import { applyFeedEffects } from './feed-effects.js';
import { loadBooks, writeBooks, type BatchBooks } from './books/batch-books.js';
import { keyOf } from '../../repositories/pairs.js';
import type { BatchScope } from './books/scope.js';
import type { EngineEvent, LeaderboardScore } from './context.js';

/** A job with its event's fields, as the outbox relay hands it over. */
export type EngagementJob = JobPayload<'engagement.event'>;

/** What applying one job did: the user's stored updates and the work to do after commit. */
export interface AppliedJob {
  updates: UserUpdate[];
  leaderboard: LeaderboardScore[];
  atRisk: AtRiskCheck[];
  /** Set when the event moved the user's feed: recompute it after this debounce. */
  feedRecomputeAfterMs?: number;
}

type UserRow = LockedUser<'timezone' | 'previous_timezone' | 'timezone_changed_at'>;

/** A job whose event was not applied before, ready to apply. */
interface Pending {
  index: number;
  event: EngineEvent;
  zone: string;
  rules: EngineRules;
}

/**
 * Applies a batch of ingested events in one transaction, each with its processed-event marker,
 * so a redelivered event (BullMQ is at-least-once) finds its marker and changes nothing. The
 * transaction costs the same few round trips whatever the batch's size: (1) the users' rows are
 * locked in id order (`inUserTransaction`: two batches sharing users cannot deadlock) and the markers written; (2) the
 * state they touch is read, one statement per table; every event is then applied in memory, each
 * user's in `occurredAt` order; (3) each table is written once and the rewards granted; (4) the
 * user updates are appended. Null for an event already applied, or whose user is gone.
 */
export async function applyEvents(sql: Sql, jobs: readonly EngagementJob[], rules: ReadonlyMap<string, EngineRules>, now: Date): Promise<(AppliedJob | null)[]> {
  const userIds = jobs.map((job) => job.userId);
  // The markers are written in the lock's round trip; they run after it.
  return inUserTransaction(sql, userIds, async (tx, users, fresh) => {
    const pending = pendingEvents(jobs, users, fresh, rules);
    const results: (AppliedJob | null)[] = jobs.map(() => null);
    if (pending.length === 0) return results;
    const books = await loadBooks(tx, scopeOf(pending, rules));
    const applied = await applyInMemory(books, pending, now);
    const grants = applied.flatMap((result) => result.grants);
    const [granted, , feedUsers] = await Promise.all([grantRewards(tx, grants), writeBooks(books), applyFeedEffects(tx, pending)]);
    // Each event's grants answered in place (null: granted before), after its other updates.
    let grantStart = 0;
    const stored = await appendUpdates(
      tx,
      pending.map(({ event }, i) => {
        const result = applied[i] as AppliedEvent;
        const answered = granted.slice(grantStart, (grantStart += result.grants.length));
        const rewards = answered.flatMap((payload) => (payload ? [{ event: 'reward:granted' as const, payload }] : []));
        return { tenantId: event.tenantId, userId: event.userId, updates: [...result.updates, ...rewards] };
      }),
    );
    pending.forEach(({ index, event, rules: tenantRules }, i) => {
      const result = applied[i] as AppliedEvent;
      results[index] = {
        updates: stored[i] ?? [],
        leaderboard: result.leaderboard,
        atRisk: result.atRisk,
        ...(feedUsers.has(event.userId) && event.feed ? { feedRecomputeAfterMs: tenantRules.feed.recomputeDebounceSeconds * 1000 } : {}),
      };
    });
    return results;
  }, { columns: ['timezone', 'previous_timezone', 'timezone_changed_at'], alongside: (tx: Transaction) => writeMarkers(tx, jobs) });
}

/** A job given twice in one batch applies at its first place only. */
function firstPlaces(jobs: readonly EngagementJob[]): { job: EngagementJob; index: number }[] {
  const places = new Map<string, { job: EngagementJob; index: number }>();
  jobs.forEach((job, index) => {
    if (!places.has(job.eventId)) places.set(job.eventId, { job, index });
  });
  return [...places.values()];
}

/**
 * Round trip 1, behind the users' locks: the markers and the users' activity in one statement; answers the
 * events not processed before. Activity is kept to the hour (the mission sweep looks back days): most events
 * then leave the row alone, and the indexed column does not turn every batch's write of the row into a non-HOT update.
 */
async function writeMarkers(tx: Transaction, jobs: readonly EngagementJob[]): Promise<Set<string>> {
  const userIds = tx.array([...new Set(jobs.map((job) => job.userId))].sort(), pgArrayType.uuid);
  const firstJobs = firstPlaces(jobs);
  const fresh = await tx<SqlPick<typeof processedEvents, 'event_id'>[]>`
      with input as (
        select * from unnest(
          ${tx.array(firstJobs.map(({ job }) => job.eventId), pgArrayType.uuid)}::uuid[],
          ${tx.array(firstJobs.map(({ job }) => job.userId), pgArrayType.uuid)}::uuid[],
          ${tx.array(firstJobs.map(({ job }) => job.event.occurredAt), pgArrayType.text)}::timestamptz[]) as t(event_id, user_id, at)),
      fresh as (insert into processed_events (event_id) select event_id from input on conflict do nothing returning event_id),
      applied as (
        -- The event leaves the outbox with its marker: the outbox holds exactly what is accepted and not yet applied.
        delete from outbox where event_id = any(${tx.array(firstJobs.map(({ job }) => job.eventId), pgArrayType.uuid)}::uuid[])),
      active as (
        update users u set last_active_at = latest.at
        from (select i.user_id, max(i.at) as at from input i join fresh f on f.event_id = i.event_id group by i.user_id) latest
        where u.id = any(${userIds}::uuid[]) and u.id = latest.user_id and (u.last_active_at is null or u.last_active_at < latest.at - interval '1 hour'))
      select event_id from fresh`;
  return new Set(fresh.map((row) => row.event_id));
}

/** The jobs whose events were not applied before (nothing comes back for an event processed already), ready to apply. */
function pendingEvents(jobs: readonly EngagementJob[], users: readonly UserRow[], claimed: ReadonlySet<string>, rules: ReadonlyMap<string, EngineRules>): Pending[] {
  const zones = new Map(users.map((user) => [user.id, user]));
  const pending: Pending[] = [];
  for (const { job, index } of firstPlaces(jobs)) {
    const user = zones.get(job.userId);
    // A user deleted since (events go with their user) leaves nothing to apply.
    if (!claimed.has(job.eventId) || !user) continue;
    const tenantRules = rules.get(job.tenantId);
    if (!tenantRules) throw new Error(`no rules given for tenant ${job.tenantId}`);
    const occurredAt = new Date(job.event.occurredAt);
    const zone = zoneAt({ zone: user.timezone, previousZone: user.previous_timezone, changedAt: user.timezone_changed_at ? new Date(user.timezone_changed_at) : null }, occurredAt);
    pending.push({
      index,
      zone,
      rules: tenantRules,
      event: { id: job.eventId, tenantId: job.tenantId, userId: job.userId, type: job.event.type, value: job.event.value, occurredAt, ...(job.event.feed ? { feed: job.event.feed } : {}) },
    });
  }
  // Each user's events apply (and their updates are numbered) oldest first; ties keep arrival order.
  return pending.sort((a, b) => a.event.occurredAt.getTime() - b.event.occurredAt.getTime());
}

function scopeOf(pending: readonly Pending[], rules: ReadonlyMap<string, EngineRules>): BatchScope {
  const instants = pending.map(({ event }) => event.occurredAt.getTime());
  const userDays = new Map(pending.map(({ event, zone }) => {
    const day = localDay(event.occurredAt, zone);
    return [keyOf(event.userId, day), { userId: event.userId, day }];
  }));
  return {
    userIds: [...new Set(pending.map(({ event }) => event.userId))],
    tenantIds: [...new Set(pending.map(({ event }) => event.tenantId))],
    userDays: [...userDays.values()],
    from: new Date(Math.min(...instants)),
    to: new Date(Math.max(...instants)),
    rules,
  };
}

/**
 * Applies the events to the books: each user's one at a time, in the order given; users side by side, which matters only when an effect has to read more (a late
 * day's refold), so those reads share round trips.
 */
async function applyInMemory(books: BatchBooks, pending: readonly Pending[], now: Date): Promise<AppliedEvent[]> {
  const applied: AppliedEvent[] = [];
  const byUser = new Map<string, number[]>();
  pending.forEach(({ event }, i) => byUser.set(event.userId, [...(byUser.get(event.userId) ?? []), i]));
  // allSettled: every chain stops (the transaction is aborted after any error) before the rollback is sent.
  const settled = await Promise.allSettled(
    [...byUser.values()].map(async (indexes) => {
      for (const i of indexes) {
        const { event, rules, zone } = pending[i] as Pending;
        applied[i] = await applyEvent(books, event, rules, zone, now);
      }
    }),
  );
  const failure = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return applied;
}
