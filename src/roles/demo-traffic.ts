import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import type { eventInputSchema } from '../contracts/api/events.js';
import type { signalInputSchema } from '../contracts/api/signals.js';
import type { TokenPair } from '../contracts/api/tokens.js';
import { createPulseClient, type PulseClient } from '../client/index.js';
import { errorFields, type Logger } from '../platform/logger.js';

/**
 * A little synthetic traffic for a first look at the dashboard: a few users with live sockets,
 * a handful of events a second, and two signals read by three sources each (one of them now and
 * then far off, so the outlier screening has something to show). It goes through the public API
 * and the SDK like any client app, so it exercises the real paths; nothing else depends on it.
 */

const USERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara'];
const EVENT_TYPES = ['app.opened', 'lesson.completed', 'workout.completed'];
/** How many of the users keep a socket open (the dashboard's "connected users"). */
const CONNECTED_USERS = 3;
const TICK_MS = 1_000;

type EventInput = z.input<typeof eventInputSchema>;
type SignalInput = z.input<typeof signalInputSchema>;

export interface DemoTrafficOptions {
  baseUrl: string;
  apiKey: string;
  logger: Logger;
  /** Stops the traffic (and closes the sockets) when aborted. */
  signal: AbortSignal;
  /** Deterministic runs for tests; Math.random otherwise. */
  random?: () => number;
}

/** The readings of one tick: room temperature (°C) and API latency (ms), three sources each. */
export function demoReadings(tick: number, random: () => number): SignalInput[] {
  const wave = Math.sin(tick / 30);
  const noisy = (centre: number, spread: number) => centre + (random() - 0.5) * 2 * spread;
  // One reading in twenty from the thermostat is far off: shown as an outlier, excluded from the value.
  const thermostat = random() < 0.05 ? 35 : noisy(21.5 + wave, 0.6);
  return [
    { key: 'room.temperature', source: 'sensor:north', value: noisy(21 + wave, 0.2), sigma: 0.2, unit: 'celsius' },
    { key: 'room.temperature', source: 'sensor:south', value: noisy(21.4 + wave, 0.3), sigma: 0.3, unit: 'celsius' },
    { key: 'room.temperature', source: 'thermostat', value: thermostat, sigma: 0.8, unit: 'celsius' },
    { key: 'api.latency', source: 'probe:eu', value: noisy(120 + 20 * wave, 10), sigma: 10, unit: 'ms' },
    { key: 'api.latency', source: 'probe:us', value: noisy(140 + 20 * wave, 15), sigma: 15, unit: 'ms' },
    { key: 'api.latency', source: 'apm', value: noisy(130 + 20 * wave, 5), sigma: 5, unit: 'ms' },
  ];
}

/** The events of one tick: one to three, from random users. */
export function demoEvents(random: () => number): EventInput[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  return Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
    const type = pick(EVENT_TYPES);
    return { type, userId: pick(USERS), ...(type === 'workout.completed' ? { value: Math.round(20 + random() * 40) } : {}) };
  });
}

async function post(options: DemoTrafficOptions, path: string, body: unknown): Promise<Response> {
  const response = await fetch(new URL(path, options.baseUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: options.signal,
  });
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
  return response;
}

/** Sockets for a few demo users through the SDK, each with a token minted by the API key. */
function connectUsers(options: DemoTrafficOptions): PulseClient[] {
  return USERS.slice(0, CONNECTED_USERS).map((userId) =>
    createPulseClient({
      baseUrl: options.baseUrl,
      getToken: async () => ((await (await post(options, '/api/v1/tokens', { userId })).json()) as TokenPair).accessToken,
    }),
  );
}

/** Runs until `options.signal` aborts; failures are logged and retried on the next tick, never thrown. */
export async function runDemoTraffic(options: DemoTrafficOptions): Promise<void> {
  const random = options.random ?? Math.random;
  const clients = connectUsers(options);
  options.logger.info('demo traffic started', { users: USERS.length, connected: clients.length });
  let failing = false;
  try {
    for (let tick = 0; !options.signal.aborted; tick += 1) {
      try {
        await Promise.all([post(options, '/api/v1/events', { events: demoEvents(random) }), post(options, '/api/v1/signals', { signals: demoReadings(tick, random) })]);
        if (failing) options.logger.info('demo traffic flows again');
        failing = false;
      } catch (error) {
        if (options.signal.aborted) break;
        if (!failing) options.logger.warn('demo traffic could not post; retrying every second', errorFields(error));
        failing = true;
      }
      await sleep(TICK_MS, undefined, { signal: options.signal }).catch(() => undefined);
    }
  } finally {
    for (const client of clients) client.close();
  }
}
