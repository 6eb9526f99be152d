import path from 'node:path';
import { processRoles } from '../boot.js';
import { readManifest } from '../../repositories/backup-manifests.js';
import { restoreBackup, type RestoreTarget } from '../../services/backups/restore-backup.js';
import { runBackupCommand } from './backup-command.js';
import { parseCommandOptions, exitWithUsage } from './options.js';
import { tableProgress } from './table-progress.js';

const usage = `Usage: npm run restore -- --file <dump> [--into <postgres URL>] [--yes] [--json]
Checks the dump's checksum against its manifest, restores it and checks the copy's row counts.
  (default)      into a NEW database beside the configured one; prints the DATABASE_URL to switch to
  --into URL     into that database (created when missing; refused when it already holds tables)
  --yes          into the configured database itself, only when no hub or worker is connected to it:
                 the dump is restored into a new database, then the configured one is renamed aside
                 (<name>_before_restore_...) and the new one takes its name. Nothing is dropped.`;

const args = parseCommandOptions({ file: { type: 'string' }, into: { type: 'string' }, yes: { type: 'boolean' }, json: { type: 'boolean' } }, usage);
if (!args.file) exitWithUsage('--file is required.', usage);
if (args.into && args.yes) exitWithUsage('--into and --yes exclude each other: --yes replaces the configured database.', usage);
const file = path.resolve(args.file);
const json = args.json === true;

// The application names the hub and worker processes connect with (see createAppContext).
const appSessionNames = processRoles.map((role) => `pulse-hub:${role}`);
const target: RestoreTarget = args.into ? { kind: 'into', url: args.into } : args.yes ? { kind: 'replace', appSessionNames } : { kind: 'new' };

await runBackupCommand({ name: 'restore', json }, async ({ settings }) => {
  // Restorable is not the same as proven: say so before an operator relies on it.
  const { verification } = await readManifest(file);
  if (verification.status !== 'verified') {
    process.stderr.write(`note: this backup is ${verification.status}${verification.reason ? ` (${verification.reason})` : ''}; its checksum and row counts are still checked.\n`);
  }
  const progress = tableProgress('restoring', { json });
  let result;
  try {
    result = await restoreBackup(settings, file, target, progress);
  } finally {
    progress.stop();
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: true, file, databaseUrl: result.databaseUrl, previousDatabase: result.previousDatabase ?? null })}\n`);
  } else if (target.kind === 'replace') {
    process.stdout.write(`Restored ${path.basename(file)} into the configured database. Its previous contents are kept as database ${result.previousDatabase}.\n`);
  } else {
    process.stdout.write(`Restored ${path.basename(file)}; row counts match the manifest.\nTo switch to it, set:\n  DATABASE_URL=${result.databaseUrl}\n`);
  }
  return 0;
});
