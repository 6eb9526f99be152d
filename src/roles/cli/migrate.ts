import { loadConfig } from '../../platform/config.js';
import { runMigrations } from '../../repositories/db/migrate.js';
import { createLogger, errorFields } from '../../platform/logger.js';
import { resolveServices } from '../../platform/local-services/index.js';

/** `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the zero-config local server). */
const config = loadConfig();
const logger = createLogger(config, 'migrate');
try {
  const services = await resolveServices(config, logger, { redis: false });
  try {
    await runMigrations(services.databaseUrl, logger);
  } finally {
    await services.stop();
  }
} catch (error) {
  logger.error('migration failed', errorFields(error));
  process.exitCode = 1;
}
