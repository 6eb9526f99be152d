import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import type { DemoCredentials } from '../demo-tenant.js';
import { runDemoIntegrations } from '../demo-integrations.js';
import { runDemoTraffic } from '../demo-traffic.js';
import { exitWithUsage, parseCommandOptions } from './options.js';

const usage =
  'Usage: npm run demo [-- --url http://localhost:3000 --key phk_...]\nFeeds synthetic events and signals to a running hub until Ctrl-C (by default the zero-config demo tenant of `npm start`), and connects Shopify, Stripe, Etsy and TikTok Shop connections to a local provider simulator that syncs their orders.';

const args = parseCommandOptions({ url: { type: 'string' }, key: { type: 'string' } }, usage);

const config = loadConfig();
const logger = createLogger(config, 'demo', true);
const file = path.join(config.DATA_DIR, 'demo-credentials.json');
const saved = JSON.parse(await readFile(file, 'utf8').catch(() => 'null')) as DemoCredentials | null;
const baseUrl = args.url ?? saved?.baseUrl;
const apiKey = args.key ?? saved?.apiKey;
if (!baseUrl || !apiKey) {
  exitWithUsage(`No hub to feed: start one with \`npm start\` (it writes ${file}), or pass --url and --key.`, usage);
}

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
process.stdout.write(`Feeding ${baseUrl} (dashboard: ${new URL('/dashboard', baseUrl).href}); Ctrl-C stops.\n`);
await Promise.all([
  runDemoTraffic({ baseUrl, apiKey, logger, signal: stop.signal }),
  runDemoIntegrations({ baseUrl, apiKey, signal: stop.signal, write: (line) => process.stdout.write(`${line}\n`) }),
]);
