import { DateTime, IANAZone } from 'luxon';

/**
 * Which backups to keep, by generations, like restic's `forget --keep-last/--keep-daily/--keep-weekly/
 * --keep-monthly`: walking verified backups newest first, each rule keeps the newest backup of each
 * of its N most recent buckets (days, ISO weeks, months in the given zone) that have one, so gaps in
 * the schedule do not eat generations. Unlike restic 0.17+, the oldest backup is not kept as a bonus
 * when a rule has fewer buckets than asked: a rule keeps exactly min(N, buckets) backups.
 *
 * Only verified backups are counted. Failed and unverified ones never fill a slot, and retention
 * never deletes them: a failed dump is evidence to inspect, an unverified one may be verifying right
 * now, and both are for an operator to remove. The newest verified backup is always kept, whatever
 * the policy, because it is the one a restore would use.
 *
 * Pure and order-independent: decisions come back newest first whatever the input order. A dry run
 * is just this function (and describeRetention) without the caller's deletions. Callers should apply
 * it only after a new backup verified, so a run of failures cannot age good backups out.
 */

export type Verification = 'verified' | 'failed' | 'unverified';
export type RetentionReason = 'last' | 'daily' | 'weekly' | 'monthly';

export interface BackupInfo {
  id: string;
  takenAt: Date;
  verified: Verification;
}

export interface RetentionPolicy {
  /** The N most recent verified backups; at least 1 whatever is asked (default 1). */
  last?: number;
  daily: number;
  weekly: number;
  monthly: number;
}

export interface RetentionDecision {
  id: string;
  /** Echoed from the input so a summary or a listing can tell failed from unverified. */
  verified: Verification;
  keep: boolean;
  /** The rules that keep a verified backup; always empty for failed and unverified ones. */
  reasons: RetentionReason[];
  why?: string;
}

const RULES = ['daily', 'weekly', 'monthly'] as const;

/** Bucket keys per rule; ISO weeks (`kkkk-'W'WW`) so 2026-12-31 and 2027-01-01 can share a week. */
const bucketFormat: Record<(typeof RULES)[number], string> = { daily: 'yyyy-MM-dd', weekly: "kkkk-'W'WW", monthly: 'yyyy-MM' };

/** Count limits: a non-negative integer, or Infinity for "every bucket" (restic's `unlimited`). */
function checkCount(name: string, value: number): number {
  if (value === Infinity || (Number.isInteger(value) && value >= 0)) return value;
  throw new RangeError(`retention ${name} must be a non-negative integer or Infinity, got ${value}`);
}

/** Newest first; equal instants fall back to the id (greater id counts as newer) so ties are deterministic. */
function newestFirst(a: BackupInfo, b: BackupInfo): number {
  return b.takenAt.getTime() - a.takenAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** One decision per backup, newest first. Throws RangeError on a bad policy, zone, date or a repeated id. */
export function decideRetention(backups: readonly BackupInfo[], policy: RetentionPolicy, zone = 'UTC'): RetentionDecision[] {
  if (!IANAZone.isValidZone(zone)) throw new RangeError(`unknown time zone ${zone}`);
  const limits = {
    last: Math.max(1, checkCount('last', policy.last ?? 1)),
    daily: checkCount('daily', policy.daily),
    weekly: checkCount('weekly', policy.weekly),
    monthly: checkCount('monthly', policy.monthly),
  };
  const ids = new Set<string>();
  for (const backup of backups) {
    if (Number.isNaN(backup.takenAt.getTime())) throw new RangeError(`backup ${backup.id} has an invalid takenAt`);
    // Ids name files to delete: two entries for one id would make "delete" ambiguous.
    if (ids.has(backup.id)) throw new RangeError(`backup id ${backup.id} appears twice`);
    ids.add(backup.id);
  }

  const sorted = [...backups].sort(newestFirst);
  const newestVerified = sorted.find((backup) => backup.verified === 'verified');
  const remaining = { ...limits };
  const lastBucket: Partial<Record<(typeof RULES)[number], string>> = {};

  return sorted.map((backup): RetentionDecision => {
    const { id, verified } = backup;
    if (verified === 'failed') return { id, verified, keep: true, reasons: [], why: 'failed verification: kept for inspection, never counted' };
    if (verified === 'unverified') {
      const pending = !newestVerified || newestVerified.takenAt < backup.takenAt;
      const why = pending ? 'not verified yet (newer than every verified backup): kept, never counted' : 'never verified: kept for an operator, never counted';
      return { id, verified, keep: true, reasons: [], why };
    }

    const reasons: RetentionReason[] = [];
    const buckets: string[] = [];
    if (remaining.last > 0) {
      remaining.last -= 1;
      reasons.push('last');
    }
    const local = DateTime.fromJSDate(backup.takenAt, { zone });
    for (const rule of RULES) {
      const bucket = local.toFormat(bucketFormat[rule]);
      // Sorted newest first, so the first backup seen in a bucket is its newest.
      if (remaining[rule] > 0 && bucket !== lastBucket[rule]) {
        remaining[rule] -= 1;
        reasons.push(rule);
        buckets.push(`${rule} ${bucket}`);
      }
      lastBucket[rule] = bucket;
    }
    if (reasons.length === 0) return { id, verified, keep: false, reasons, why: 'not needed by any rule of the policy' };
    return { id, verified, keep: true, reasons, why: reasons.includes('last') ? ['last', ...buckets].join(', ') : buckets.join(', ') };
  });
}

/** One line for logs and dry runs, e.g. "keeps 11 of 31 backups (last 1, daily 7, weekly 4, monthly 1; 2 failed kept for inspection); deletes 20". */
export function describeRetention(decisions: readonly RetentionDecision[]): string {
  const kept = decisions.filter((decision) => decision.keep).length;
  const byRule = (['last', ...RULES] as const).map((rule) => `${rule} ${decisions.filter((decision) => decision.reasons.includes(rule)).length}`);
  const failed = decisions.filter((decision) => decision.verified === 'failed').length;
  const unverified = decisions.filter((decision) => decision.verified === 'unverified').length;
  const outside = [failed > 0 ? `${failed} failed kept for inspection` : '', unverified > 0 ? `${unverified} unverified kept` : ''].filter(Boolean);
  const detail = [byRule.join(', '), ...outside].join('; ');
  return `keeps ${kept} of ${decisions.length} backups (${detail}); deletes ${decisions.length - kept}`;
}
