import path from 'node:path';
import { decideRetention, describeRetention, type RetentionDecision } from '../../domain/backup-retention.js';
import { listBackups, removeBackup, type StoredBackup } from '../../repositories/backup-manifests.js';
import type { BackupSettings } from './settings.js';

export interface RetentionEntry {
  backup: StoredBackup;
  /** Null for a dump without a readable manifest: never judged, never deleted. */
  decision: RetentionDecision | null;
}

export interface RetentionPlan {
  /** Newest first. */
  entries: RetentionEntry[];
  summary: string;
}

/** What the policy keeps and deletes among the backups on disk (a dry run: nothing is touched). */
export async function planRetention(settings: BackupSettings): Promise<RetentionPlan> {
  const backups = await listBackups(settings.backupDir);
  const judged = backups.filter((backup) => backup.manifest);
  const decisions = decideRetention(
    judged.map((backup) => ({ id: path.basename(backup.file), takenAt: new Date(backup.manifest!.createdAt), verified: backup.manifest!.verification.status })),
    settings.policy,
  );
  const byId = new Map(decisions.map((decision) => [decision.id, decision]));
  const entries = backups
    .map((backup) => ({ backup, decision: byId.get(path.basename(backup.file)) ?? null }))
    .reverse();
  return { entries, summary: describeRetention(decisions) };
}

/** Deletes what the policy does not keep. Callers run it only after a new backup verified. */
export async function applyRetention(settings: BackupSettings): Promise<{ removed: string[]; summary: string }> {
  const plan = await planRetention(settings);
  const doomed = plan.entries.filter((entry) => entry.decision && !entry.decision.keep).map((entry) => entry.backup.file);
  for (const file of doomed) await removeBackup(file);
  return { removed: doomed.map((file) => path.basename(file)), summary: plan.summary };
}
