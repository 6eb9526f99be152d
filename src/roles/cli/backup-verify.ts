import path from 'node:path';
import { verifyBackup } from '../../services/backups/verify-backup.js';
import { runBackupCommand } from './backup-command.js';
import { describeVerification, formatBytes } from './backup-format.js';
import { exitWithUsage, parseCommandOptions } from './options.js';
import { tableProgress } from './table-progress.js';

const usage = `Usage: npm run backup:verify -- --file <dump> [--json]
Checks the dump against its manifest (size, SHA-256), restores it into a scratch database (dropped
afterwards), compares every table's row count, the migration and a few users' state, and records the
result in the manifest. Exits 1 when verification fails.`;

const args = parseCommandOptions({ file: { type: 'string' }, json: { type: 'boolean' } }, usage);
if (!args.file) exitWithUsage('--file is required.', usage);
const file = path.resolve(args.file);
const json = args.json === true;

await runBackupCommand({ name: 'backup-verify', json }, async ({ settings }) => {
  const progress = tableProgress('restoring', { json });
  let result;
  try {
    result = await verifyBackup(settings, file, progress);
  } finally {
    progress.stop();
  }
  const verified = result.verification.status === 'verified';
  process.stdout.write(
    json
      ? `${JSON.stringify({ ok: verified, file, verification: result.verification, manifest: result.manifest })}\n`
      : `${path.basename(file)} (${formatBytes(result.manifest.size)}, taken ${result.manifest.createdAt}): ${describeVerification(result.manifest)}\n`,
  );
  return verified ? 0 : 1;
});
