import { SingleBar, Presets } from 'cli-progress';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { resolveCredentialVault } from '../../platform/secrets.js';
import { rotateCredentials, type RotationProgress } from '../../services/integrations/rotation.js';
import { runDatabaseCommand } from './database-command.js';
import { exitWithUsage, parseCommandOptions } from './options.js';

const usage = `Usage: npm run credentials:rotate -- [--batch-size N] [--json]

Re-seals every stored integration secret under the current key (the first of CREDENTIALS_KEY).
Deploy the new ring first (new key first, the old one after it) to every hub and worker; run
this; then drop the old key. Safe beside live processes: each row is rewritten on its own.
Exits 1 when a secret could not be opened (its connection is then marked broken).`;

const args = parseCommandOptions({ 'batch-size': { type: 'string' }, json: { type: 'boolean' } }, usage);
const batchSize = Number(args['batch-size'] ?? 100);
if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) exitWithUsage('--batch-size must be an integer from 1 to 10000.', usage);

const config = loadConfig();
const logger = createLogger(config, 'credentials:rotate', true);
const interactive = !args.json && process.stderr.isTTY;

/** A bar on a terminal; a line per tenth (and the last) otherwise; nothing with --json. */
function progressReporter(): { update: (progress: RotationProgress) => void; stop: () => void } {
  if (args.json) return { update: () => undefined, stop: () => undefined };
  if (interactive) {
    const bar = new SingleBar({ format: 'Re-sealing {bar} {value}/{total} secrets | {eta_formatted} left', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
    let started = false;
    return {
      update: ({ total, done }) => {
        if (!started) {
          bar.start(total, done);
          started = true;
        } else bar.update(done);
      },
      stop: () => started && bar.stop(),
    };
  }
  let lastTenth = -1;
  return {
    update: ({ total, done }) => {
      const tenth = total === 0 ? 10 : Math.floor((done / total) * 10);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      process.stderr.write(`re-sealed ${done}/${total}\n`);
    },
    stop: () => undefined,
  };
}

await runDatabaseCommand({ config, logger, applicationName: 'pulse-hub:credentials-rotate', failure: 'credential rotation failed' }, async (db) => {
  const vault = await resolveCredentialVault(config);
  const progress = progressReporter();
  const report = await rotateCredentials(db, vault, { batchSize, onProgress: progress.update }).finally(progress.stop);
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(`Current key: ${report.currentKeyId}. Re-sealed ${report.rotated} of ${report.total} secrets; ${report.skipped} changed meanwhile (already current); ${report.failed.length} failed.\n`);
    for (const failure of report.failed) process.stdout.write(`  ${failure.target}: ${failure.reason}\n`);
  }
  if (report.failed.length > 0) process.exitCode = 1;
});
