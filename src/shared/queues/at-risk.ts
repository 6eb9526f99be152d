import type { JobQueues } from './producer.js';

/** A streak check to schedule: at `at`, warn if `day` has no qualifying event yet. */
export interface AtRiskCheck {
  streakKey: string;
  day: string;
  at: Date;
}

/** One delayed check per (user, streak, day): the job id (BullMQ refuses ":" in custom ids) makes a second schedule of the day add nothing. */
export async function scheduleAtRiskChecks(queues: JobQueues, user: { tenantId: string; userId: string }, checks: AtRiskCheck[]): Promise<void> {
  const now = Date.now();
  for (const check of checks) {
    if (check.at.getTime() <= now) continue;
    await queues.enqueue(
      'streak.at-risk',
      { ...user, streakKey: check.streakKey, day: check.day },
      { jobId: `at-risk.${user.userId}.${check.day}.${check.streakKey}`, delay: check.at.getTime() - now, removeOnComplete: true, removeOnFail: 1000 },
    );
  }
}
