import { LRUCache } from 'lru-cache';
import { atLocalTime, nextLocalDay, type LocalDay } from '../domain/calendar.js';
import type { JobQueues } from '../platform/queues/producer.js';

/** A streak check to schedule: at `at`, warn if `day` has no qualifying event yet. */
export interface AtRiskCheck {
  streakKey: string;
  day: string;
  at: Date;
}

/** The day after a streak's last day is at risk from the tenant's at-risk hour unless an event comes first. */
export function checkAfter(streakKey: string, lastDay: LocalDay, zone: string, atRiskHour: number): AtRiskCheck {
  const day = nextLocalDay(lastDay, zone);
  return { streakKey, day, at: atLocalTime(day, zone, atRiskHour) };
}

/** One job per (user, streak, day); BullMQ refuses ":" in custom ids. */
const atRiskJobId = (userId: string, check: AtRiskCheck) => `at-risk.${userId}.${check.day}.${check.streakKey}`;

/**
 * Schedules the checks of any number of users in one round trip, one delayed job per (user,
 * streak, day): the job id makes a second schedule of the day add nothing. Checks already due are dropped.
 */
export async function scheduleAtRiskChecks(queues: JobQueues, users: readonly { tenantId: string; userId: string; checks: readonly AtRiskCheck[] }[]): Promise<void> {
  const now = Date.now();
  const jobs = users.flatMap(({ tenantId, userId, checks }) =>
    checks
      .filter((check) => check.at.getTime() > now)
      .map((check) => ({
        payload: { tenantId, userId, streakKey: check.streakKey, day: check.day },
        options: { jobId: atRiskJobId(userId, check), delay: check.at.getTime() - now, removeOnComplete: true, removeOnFail: 1000 },
      })),
  );
  if (jobs.length > 0) await queues.enqueueMany('streak.at-risk', jobs);
}

/**
 * The engine's scheduler: nearly every event of a user's day yields that day's same check, and
 * each ask runs a BullMQ script in Redis only to find the job there. A check this process has
 * scheduled is remembered until it is due, so Redis is asked once per check and process.
 */
export class AtRiskScheduler {
  private readonly scheduled = new LRUCache<string, true>({ max: 200_000 });

  constructor(private readonly queues: JobQueues) {}

  async schedule(users: readonly { tenantId: string; userId: string; checks: readonly AtRiskCheck[] }[]): Promise<void> {
    const unknown = users.map((user) => ({ ...user, checks: user.checks.filter((check) => !this.scheduled.has(atRiskJobId(user.userId, check))) }));
    await scheduleAtRiskChecks(this.queues, unknown);
    const now = Date.now();
    for (const { userId, checks } of unknown) {
      for (const check of checks) {
        const untilDue = check.at.getTime() - now;
        if (untilDue > 0) this.scheduled.set(atRiskJobId(userId, check), true, { ttl: untilDue });
      }
    }
  }
}
