import { loadConfig } from '../../platform/config.js';
import { connectDatabase } from '../../repositories/db/client.js';
import { runMigrations } from '../../repositories/db/migrate.js';
import { createLogger, errorFields } from '../../platform/logger.js';
import { createTenant } from '../../repositories/tenants.js';
import { resolveServices } from '../../platform/local-services/index.js';
import { exitWithUsage, parseCommandOptions } from './options.js';

const usage = 'Usage: npm run tenant:create -- --name "Acme" [--json]';

const args = parseCommandOptions({ name: { type: 'string' }, json: { type: 'boolean' } }, usage);
const name = args.name?.trim();
if (!name || name.length > 128) exitWithUsage('A --name of 1 to 128 characters is required.', usage);

const config = loadConfig();
const logger = createLogger(config, 'tenant:create', true);
try {
  const services = await resolveServices(config, logger, { redis: false });
  const database = connectDatabase(services.databaseUrl, { max: 1, applicationName: 'pulse-hub:tenant-create' });
  try {
    await runMigrations(services.databaseUrl, logger);
    const tenant = await createTenant(database.db, { name, actor: 'cli' });
    process.stdout.write(
      args.json
        ? `${JSON.stringify(tenant)}\n`
        : `Tenant "${tenant.name}" created.\n  tenant id: ${tenant.tenantId}\n  API key:   ${tenant.apiKey}\n` +
            'The API key is shown only this once: store it now.\n',
    );
  } finally {
    await database.close();
    await services.stop();
  }
} catch (error) {
  logger.error('tenant creation failed', errorFields(error));
  process.exitCode = 1;
}
