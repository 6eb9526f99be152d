import type { Config } from '../../platform/config.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import { resolveServices } from '../../platform/local-services/index.js';
import { connectDatabase, type Database } from '../../repositories/db/client.js';
import { runMigrations } from '../../repositories/db/migrate.js';

/**
 * The frame of a command that works on the database: resolves the services (Postgres only; the
 * zero-config local server when DATABASE_URL is unset), connects with one connection, applies
 * pending migrations, runs `work`, and always closes the connection and stops the services. A
 * failure anywhere is logged as `failure` and sets exit code 1.
 */
export async function runDatabaseCommand(
  { config, logger, applicationName, failure }: { config: Config; logger: Logger; applicationName: string; failure: string },
  work: (db: Database) => Promise<void>,
): Promise<void> {
  try {
    const services = await resolveServices(config, logger, { redis: false });
    const database = connectDatabase(services.databaseUrl, { max: 1, applicationName });
    try {
      await runMigrations(services.databaseUrl, logger);
      await work(database.db);
    } finally {
      await database.close();
      await services.stop();
    }
  } catch (error) {
    logger.error(failure, errorFields(error));
    process.exitCode = 1;
  }
}
