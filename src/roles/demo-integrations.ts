import { once } from 'node:events';
import { awaitDemoSyncs, connectDemoProviders, describeDemoConnection, disableDemoConnections, type DemoApi, type DemoConnectionResult } from './demo-connections.js';
import { startDemoSimulator } from './demo-simulator.js';

/** How long the demo waits for the first syncs before printing where they stand. */
const FIRST_SYNC_TIMEOUT_MS = 60_000;

export interface DemoIntegrationsOptions extends DemoApi {
  /** Stops the simulator when aborted. */
  signal: AbortSignal;
  /** One line of output for the person running the demo. */
  write: (line: string) => void;
}

/** The error's message, with its cause's (fetch says only "fetch failed"; the cause says ECONNREFUSED …). */
const reason = (error: unknown): string =>
  error instanceof Error ? (error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message) : String(error);

/**
 * Starts the provider simulator, connects the demo tenant to it (one connection per provider, a
 * first sync each) and keeps the simulator up for the scheduled syncs until `signal` aborts.
 * Never throws: without the simulator the demo still feeds traffic, and says why syncs are off.
 */
export async function runDemoIntegrations(options: DemoIntegrationsOptions): Promise<void> {
  const { signal, write } = options;
  let simulator;
  try {
    simulator = await startDemoSimulator({ tiktokRedirectUri: new URL('/oauth/callback', options.baseUrl).href });
  } catch (error) {
    write(`Integration syncs are off: the provider simulator did not start (${reason(error)}).`);
    return;
  }
  let connected: DemoConnectionResult[] = [];
  try {
    if (signal.aborted) return;
    write(`Provider simulator on ${simulator.info.url}; connecting Shopify, Stripe, Etsy and TikTok Shop to it…`);
    try {
      connected = await connectDemoProviders(options, simulator.info);
      const results = await awaitDemoSyncs(options, connected, FIRST_SYNC_TIMEOUT_MS);
      write('Integrations (GET /api/v1/admin/connections; synced again on their schedule until the demo stops, then disabled):');
      for (const result of results) write(describeDemoConnection(result));
    } catch (error) {
      if (signal.aborted) return;
      write(`Integration syncs are off: the demo connections could not be set up (${reason(error)}).`);
    }
    if (!signal.aborted) await once(signal, 'abort');
  } finally {
    await disableDemoConnections(options, connected);
    await simulator.stop();
  }
}
