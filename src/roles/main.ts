import { loadConfig } from '../platform/config.js';
import { createLogger, errorFields } from '../platform/logger.js';
import { boot, processRoles, type ProcessRole } from './boot.js';
import { ensureDemoTenant } from './demo-tenant.js';
import { runDemoTraffic } from './demo-traffic.js';
import { announceOperatorPages } from './operator-pages.js';
import { Lifecycle } from '../platform/lifecycle.js';
import { RedisServerMissingError, resolveServices } from '../platform/local-services/index.js';

/**
 * Process entry: `main.ts [all|hub|worker] [--exit-with-parent]`. The npm scripts pass
 * `--exit-with-parent`: npm forwards SIGTERM and SIGINT but dies of SIGHUP without passing it on,
 * and the hub must not outlive the `npm start` it was started by.
 */
function parseRole(arg: string | undefined): ProcessRole {
  const role = arg ?? 'all';
  if ((processRoles as readonly string[]).includes(role)) return role as ProcessRole;
  process.stderr.write(`Unknown role "${role}". Use one of: ${processRoles.join(', ')}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const role = parseRole(args.find((arg) => !arg.startsWith('--')));
const config = loadConfig();
const logger = createLogger(config, role);
const lifecycle = new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS);
lifecycle.installSignalHandlers({ watchParent: args.includes('--exit-with-parent') });

try {
  const services = await resolveServices(config, logger);
  lifecycle.defer('local servers', () => services.stop());
  const { context, hub } = await boot({ role, config, logger, lifecycle, ...services });
  // Zero-config means someone is trying Pulse Hub out: hand them a tenant and key that work.
  if (hub && !config.DATABASE_URL) {
    await announceOperatorPages(config, hub.url, logger);
    const demo = await ensureDemoTenant(context.database.db, config, hub.url, logger);
    if (config.PULSE_DEMO_DATA) {
      const stop = new AbortController();
      const feeding = runDemoTraffic({ baseUrl: demo.baseUrl, apiKey: demo.apiKey, logger, signal: stop.signal });
      lifecycle.defer('demo traffic', async () => {
        stop.abort();
        await feeding;
      });
    }
  } else if (config.PULSE_DEMO_DATA) {
    logger.warn('PULSE_DEMO_DATA is for zero-config mode (no DATABASE_URL): no demo traffic; `npm run demo -- --url --key` feeds any hub');
  }
} catch (error) {
  logger.error('start-up failed', errorFields(error));
  // Advice for the person at the terminal reads better as plain text than inside a JSON line.
  if (error instanceof RedisServerMissingError) process.stderr.write(`\n${error.message}\n\n`);
  await lifecycle.shutdown('start-up failed');
  process.exit(1);
}
