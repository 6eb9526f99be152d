import path from 'node:path';
import { runBackup } from '../../services/backups/run-backup.js';
import { runBackupCommand } from './backup-command.js';
import { describeVerification, formatBytes } from './backup-format.js';
import { parseCommandOptions } from './options.js';
import { tableProgress } from './table-progress.js';

const usage = `Usage: npm run backup [-- --json]
Dumps the database now (pg_dump of the server's major version, PG_DUMP_BIN), writes its manifest,
verifies it by restoring it into a scratch database, then applies retention if it verified.
Exits 1 when the backup could not be made or failed verification.`;

const args = parseCommandOptions({ json: { type: 'boolean' } }, usage);
const json = args.json === true;

await runBackupCommand({ name: 'backup', json }, async ({ settings, sql }) => {
  const dump = tableProgress('dumping', { json });
  const verify = tableProgress('restoring', { json });
  let run;
  try {
    run = await runBackup(settings, sql, {
      dump: { onStart: dump.onStart, onTable: dump.onTable },
      // The dump's bar ends where verification begins.
      verify: { onStart: (total) => (dump.stop(), verify.onStart?.(total)), onTable: verify.onTable },
    });
  } finally {
    dump.stop();
    verify.stop();
  }
  const verified = run.verification.status === 'verified';
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: verified, file: run.file, manifest: run.manifest, removed: run.removed, retention: run.retention })}\n`);
  } else {
    process.stdout.write(
      `Backup ${path.basename(run.file)}: ${formatBytes(run.manifest.size)}, ${Object.keys(run.manifest.tables).length} tables, ` +
        `${describeVerification(run.manifest)}\n  in ${settings.backupDir}\n  retention: ${run.retention}\n` +
        (run.removed.length > 0 ? `  removed: ${run.removed.join(', ')}\n` : ''),
    );
  }
  return verified ? 0 : 1;
});
