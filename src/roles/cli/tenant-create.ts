import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { createTenant } from '../../repositories/tenants.js';
import { runDatabaseCommand } from './database-command.js';
import { exitWithUsage, parseCommandOptions } from './options.js';

const usage = 'Usage: npm run tenant:create -- --name "Acme" [--json]';

const args = parseCommandOptions({ name: { type: 'string' }, json: { type: 'boolean' } }, usage);
const name = args.name?.trim();
if (!name || name.length > 128) exitWithUsage('A --name of 1 to 128 characters is required.', usage);

const config = loadConfig();
const logger = createLogger(config, 'tenant:create', true);
await runDatabaseCommand({ config, logger, applicationName: 'pulse-hub:tenant-create', failure: 'tenant creation failed' }, async (db) => {
  const tenant = await createTenant(db, { name, actor: 'cli' });
  process.stdout.write(
    args.json
      ? `${JSON.stringify(tenant)}\n`
      : `Tenant "${tenant.name}" created.\n  tenant id: ${tenant.tenantId}\n  API key:   ${tenant.apiKey}\n` +
          'The API key is shown only this once: store it now.\n',
  );
});
