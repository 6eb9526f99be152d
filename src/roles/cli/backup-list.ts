import path from 'node:path';
import { planRetention } from '../../services/backups/retention.js';
import { backupSettingsFrom } from '../../services/backups/settings.js';
import { loadConfig } from '../../platform/config.js';
import { formatAge, formatBytes, formatTable } from './backup-format.js';
import { parseCommandOptions } from './options.js';

const usage = `Usage: npm run backup:list [-- --json]
Lists the backups in BACKUP_DIR, newest first: when, size, verification, age, and which retention
rule keeps each (a dry run of retention: "delete" marks what the next verified backup removes).`;

const args = parseCommandOptions({ json: { type: 'boolean' } }, usage);
const config = loadConfig();
// Only files are read: no database is needed to list.
const settings = backupSettingsFrom(config, config.DATABASE_URL ?? 'postgres://unused/unused');
const now = Date.now();

try {
  const plan = await planRetention(settings);
  if (args.json) {
    const backups = plan.entries.map(({ backup, decision }) => ({
      file: backup.file,
      createdAt: backup.manifest?.createdAt ?? null,
      size: backup.manifest?.size ?? null,
      verification: backup.manifest?.verification ?? null,
      keep: decision?.keep ?? true,
      keptBy: decision?.reasons ?? [],
      why: decision?.why ?? backup.problem ?? null,
    }));
    process.stdout.write(`${JSON.stringify({ dir: settings.backupDir, backups, summary: plan.summary })}\n`);
  } else if (plan.entries.length === 0) {
    process.stdout.write(`No backups in ${settings.backupDir}.\n`);
  } else {
    const rows = plan.entries.map(({ backup, decision }) => {
      const manifest = backup.manifest;
      const kept = !decision ? `kept (${backup.problem ?? 'no manifest'})` : decision.keep ? (decision.reasons.length > 0 ? decision.reasons.join(', ') : 'kept (not counted)') : 'delete';
      return [
        manifest ? manifest.createdAt.replace('T', ' ').slice(0, 19) : '?',
        manifest ? formatBytes(manifest.size) : '?',
        manifest?.verification.status ?? '?',
        manifest ? formatAge(now - Date.parse(manifest.createdAt)) : '?',
        kept,
        path.basename(backup.file),
      ];
    });
    process.stdout.write(`${formatTable(['WHEN (UTC)', 'SIZE', 'VERIFIED', 'AGE', 'KEPT BY', 'FILE'], rows)}\n\nRetention (dry run): ${plan.summary}\n`);
    const failed = plan.entries.filter(({ backup }) => backup.manifest?.verification.status === 'failed');
    for (const { backup } of failed) process.stdout.write(`  ${path.basename(backup.file)} failed: ${backup.manifest?.verification.reason ?? ''}\n`);
  }
} catch (error) {
  process.stderr.write(`backup:list failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
