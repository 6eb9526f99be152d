import { atLocalTime, nextLocalDay, type LocalDay } from '../engine/calendar.js';
import type { JobQueues } from './producer.js';

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

/**
 * Schedules the checks of any number of users in one round trip, one delayed job per (user,
 * streak, day): the job id (BullMQ refuses ":" in custom ids) makes a second schedule of the day
 * add nothing. Checks already due are dropped.
 */
export async function scheduleAtRiskChecks(queues: JobQueues, users: readonly { tenantId: string; userId: string; checks: readonly AtRiskCheck[] }[]): Promise<void> {
  const now = Date.now();
  const jobs = users.flatMap(({ tenantId, userId, checks }) =>
    checks
      .filter((check) => check.at.getTime() > now)
      .map((check) => ({
        payload: { tenantId, userId, streakKey: check.streakKey, day: check.day },
        options: { jobId: `at-risk.${userId}.${check.day}.${check.streakKey}`, delay: check.at.getTime() - now, removeOnComplete: true, removeOnFail: 1000 },
      })),
  );
  if (jobs.length > 0) await queues.enqueueMany('streak.at-risk', jobs);
}
