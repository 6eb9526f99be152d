import { loadConfig } from './shared/config.js';
import { runMigrations } from './shared/db/migrate.js';
import { createLogger, errorFields } from './shared/logger.js';
import { createAppContext } from './shared/runtime/context.js';
import { Lifecycle } from './shared/runtime/lifecycle.js';
import { resolveServices } from './shared/runtime/local-services/index.js';
import { startHub } from './server/hub.js';
import { startWorkerRole } from './workers/worker-role.js';

const roles = ['all', 'hub', 'worker'] as const;
type Role = (typeof roles)[number];

function parseRole(arg: string | undefined): Role {
  const role = arg ?? 'all';
  if ((roles as readonly string[]).includes(role)) return role as Role;
  process.stderr.write(`Unknown role "${role}". Use one of: ${roles.join(', ')}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const role = parseRole(process.argv[2]);
  const config = loadConfig();
  const logger = createLogger(config, role);
  const lifecycle = new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS);
  lifecycle.installSignalHandlers();

  try {
    const services = await resolveServices(config, logger);
    lifecycle.defer('local servers', () => services.stop());
    await runMigrations(services.databaseUrl, logger);
    const context = createAppContext({ config, logger, lifecycle, role, ...services });
    // Started in this order so shutdown (reverse order) stops the listener before draining jobs.
    if (role !== 'hub') await startWorkerRole(context);
    if (role !== 'worker') await startHub(context);
  } catch (error) {
    logger.error('start-up failed', errorFields(error));
    process.exitCode = 1;
    await lifecycle.shutdown('start-up failed');
    process.exit(1);
  }
}

await main();
