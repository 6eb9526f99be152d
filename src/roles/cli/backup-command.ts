import { loadConfig, type Config } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { resolveServices } from '../../platform/local-services/index.js';
import { connectDatabase, type Sql } from '../../repositories/db/client.js';
import { backupSettingsFrom, type BackupSettings } from '../../services/backups/settings.js';

/**
 * The frame of the backup commands: resolves the database (DATABASE_URL, or the zero-config local
 * server), runs `work` with the settings and a small pool, and always closes both. No migrations
 * run: a backup or restore must see the database as it is. A failure prints its message (as JSON
 * with --json) and exits 1; `work` returns the exit code for results that are failures.
 */
export async function runBackupCommand(
  { name, json }: { name: string; json: boolean },
  work: (context: { config: Config; settings: BackupSettings; sql: Sql }) => Promise<number>,
): Promise<void> {
  const config = loadConfig();
  // Logs go to stderr so stdout holds only the command's output.
  const logger = createLogger({ ...config, LOG_LEVEL: 'warn' }, name, true);
  try {
    const services = await resolveServices(config, logger, { redis: false });
    const database = connectDatabase(services.databaseUrl, { max: 2, applicationName: `pulse-hub:${name}` });
    try {
      process.exitCode = await work({ config, settings: backupSettingsFrom(config, services.databaseUrl), sql: database.sql });
    } finally {
      await database.close();
      await services.stop();
    }
  } catch (error) {
    const message = (error as Error).message;
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
    process.stderr.write(`${name} failed: ${message}\n`);
    process.exitCode = 1;
  }
}
