import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ConnectionView } from '../../src/contracts/api/connections.js';
import { runDemoIntegrations } from '../../src/roles/demo-integrations.js';
import { apiJson } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { until } from '../support/until.js';

/**
 * `npm run demo`'s integrations against a real hub (workers included): the simulator runs as the
 * demo's child process and every connection is set up through the REST API, OAuth included.
 */
describe('demo integrations', () => {
  const fixture = useTenantHub('demo-integrations', { role: 'all' });

  const connections = async () =>
    (await apiJson<{ connections: ConnectionView[] }>(fixture.hub.url, 'GET', '/api/v1/admin/connections?limit=100', { token: fixture.tenant.apiKey })).body.connections;

  /** Runs the demo's integration part until its summary is printed, reads the connections while it runs, then stops it. */
  async function runOnce(): Promise<{ lines: string[]; running: ConnectionView[] }> {
    const lines: string[] = [];
    const stop = new AbortController();
    const demo = runDemoIntegrations({ baseUrl: fixture.hub.url, apiKey: fixture.tenant.apiKey, signal: stop.signal, write: (line) => lines.push(line) });
    try {
      await until(() => lines.length, () => lines.some((line) => line.startsWith('Integration syncs are off')) || lines.filter((line) => line.startsWith('  Demo ')).length === 4, 90_000);
      return { lines, running: await connections() };
    } finally {
      stop.abort();
      await demo;
    }
  }

  it('connects all four providers to the simulator, OAuth included, and each first sync makes events for the demo customers', { timeout: 180_000 }, async () => {
    const { lines, running: first } = await runOnce();
    expect(lines.join('\n')).not.toMatch(/are off|not connected|sync failed/);
    expect(first.map((connection) => connection.provider).sort()).toEqual(['etsy', 'shopify', 'stripe', 'tiktok_shop']);
    for (const connection of first) {
      expect(connection.status, connection.name).toBe('active');
      expect(connection.scheduleMinutes).toBe(5);
      expect(connection.sync.lastError, connection.name).toBeNull();
      expect(connection.sync.lastRun?.events, connection.name).toBeGreaterThan(0);
      expect(connection.sync.counts.unmatched, connection.name).toBe(0);
    }
    const oauth = first.filter((connection) => connection.provider === 'etsy' || connection.provider === 'tiktok_shop');
    for (const connection of oauth) expect(connection.credentials.map((credential) => credential.kind)).toEqual(expect.arrayContaining(['access_token', 'refresh_token']));
    const [events] = await fixture.sql`select count(*)::int as n from events where tenant_id = ${fixture.tenant.tenantId} and data->>'source' = 'sync'`;
    expect(events?.n).toBe(first.reduce((sum, connection) => sum + connection.sync.counts.events, 0));
    // Stopped, the demo disables them: their schedules would only fail against the simulator that went with it.
    expect((await connections()).map((connection) => connection.status)).toEqual(['disabled', 'disabled', 'disabled', 'disabled']);

    // A second demo run (a new simulator on another port) reuses the connections by name, enables and authorizes them again.
    const again = await runOnce();
    expect(again.lines.join('\n')).not.toMatch(/are off|not connected|sync failed/);
    expect(again.running.map((connection) => connection.id).sort()).toEqual(first.map((connection) => connection.id).sort());
    for (const connection of again.running) {
      expect(connection.status).toBe('active');
      expect(connection.settings.baseUrls).not.toEqual(first.find((previous) => previous.id === connection.id)?.settings.baseUrls);
      expect(connection.sync.lastError, connection.name).toBeNull();
    }
  });

  it('says why syncs are off instead of failing when the hub cannot be reached, and stops its simulator', { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    // A port just freed: every call of the setup is refused.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const running = runDemoIntegrations({ baseUrl: `http://127.0.0.1:${port}`, apiKey: fixture.tenant.apiKey, signal: stop.signal, write: (line) => lines.push(line) });
    try {
      await until(() => lines.length, () => lines.some((line) => line.startsWith('Integration syncs are off')), 40_000);
    } finally {
      stop.abort();
      await running;
    }
    expect(lines.at(-1)).toMatch(/^Integration syncs are off: the demo connections could not be set up \(.*ECONNREFUSED/);
    const simulatorUrl = /Provider simulator on (\S+);/.exec(lines[0] ?? '')?.[1];
    expect(simulatorUrl).toBeDefined();
    await expect(fetch(`${simulatorUrl}/stripe/v1/charges`)).rejects.toThrow();
  });
});
