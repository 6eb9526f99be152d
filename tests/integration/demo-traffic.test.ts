import { describe, expect, it } from 'vitest';
import { eventInputSchema } from '../../src/contracts/api/events.js';
import { signalInputSchema, type FusedSignal } from '../../src/contracts/api/signals.js';
import { demoEvents, demoReadings, runDemoTraffic } from '../../src/roles/demo-traffic.js';
import { apiJson } from '../support/api-client.js';
import { silentLogger } from '../support/silent-logger.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { until } from '../support/until.js';

describe('demo traffic', () => {
  const fixture = useTenantHub('demo-traffic');

  it('builds valid events and readings', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let tick = 0; tick < 200; tick += 1) {
      for (const reading of demoReadings(tick, random)) expect(signalInputSchema.safeParse(reading).success).toBe(true);
      for (const event of demoEvents(random)) expect(eventInputSchema.safeParse(event).success).toBe(true);
    }
  });

  it('feeds a running hub: both signals get fused values from three sources, events are stored, users connect', async () => {
    const stop = new AbortController();
    const running = runDemoTraffic({ baseUrl: fixture.hub.url, apiKey: fixture.tenant.apiKey, logger: silentLogger(), signal: stop.signal });
    try {
      const signals = await until(
        async () => (await apiJson<{ signals: FusedSignal[] }>(fixture.hub.url, 'GET', '/api/v1/signals', { token: fixture.tenant.apiKey })).body.signals,
        (list) => list.length === 2 && list.every((signal) => signal.inputs.length === 3),
        20_000,
      );
      expect(signals.map((signal) => [signal.key, signal.unit])).toEqual([['api.latency', 'ms'], ['room.temperature', 'celsius']]);
      const [events] = await fixture.sql`select count(*)::int as n from events where tenant_id = ${fixture.tenant.tenantId}`;
      expect(events?.n).toBeGreaterThan(0);
    } finally {
      stop.abort();
      await running;
    }
  });
});
