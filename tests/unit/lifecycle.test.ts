import { afterEach, describe, expect, it } from 'vitest';
import { Lifecycle, SignalPolicy, shutdownSignals } from '../../src/platform/lifecycle.js';
import { silentLogger } from '../support/silent-logger.js';

describe('Lifecycle', () => {
  it('runs steps in reverse order of registration and exits 0', async () => {
    const order: string[] = [];
    const lifecycle = new Lifecycle(silentLogger(), 1_000);
    for (const name of ['pools', 'workers', 'listener']) {
      lifecycle.defer(name, () => Promise.resolve(void order.push(name)));
    }
    expect(await lifecycle.shutdown('test')).toBe(0);
    expect(order).toEqual(['listener', 'workers', 'pools']);
  });

  it('keeps going after a failing step and reports exit code 1', async () => {
    const order: string[] = [];
    const lifecycle = new Lifecycle(silentLogger(), 1_000);
    lifecycle.defer('pools', () => Promise.resolve(void order.push('pools')));
    lifecycle.defer('broken', () => Promise.reject(new Error('boom')));
    expect(await lifecycle.shutdown('test')).toBe(1);
    expect(order).toEqual(['pools']);
  });

  it('gives up with exit code 1 when a step outlives the deadline', async () => {
    const lifecycle = new Lifecycle(silentLogger(), 50);
    let budget = -1;
    lifecycle.defer('stuck', (remainingMs) => {
      budget = remainingMs;
      return new Promise(() => undefined);
    });
    const started = Date.now();
    expect(await lifecycle.shutdown('test')).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(budget).toBeGreaterThan(0);
    expect(budget).toBeLessThanOrEqual(50);
  });

  it('runs the sequence once however often it is asked', async () => {
    let runs = 0;
    const lifecycle = new Lifecycle(silentLogger(), 1_000);
    lifecycle.defer('count', () => Promise.resolve(void runs++));
    await Promise.all([lifecycle.shutdown('a'), lifecycle.shutdown('b')]);
    expect(runs).toBe(1);
  });
});

describe('SignalPolicy', () => {
  it('shuts down on the first signal, ignores repeats within the grace period, forces exit after it', () => {
    let now = 1_000;
    const policy = new SignalPolicy(3_000, () => now);
    expect(policy.receive()).toBe('shutdown');
    now += 77; // tsx or npm passing the same SIGTERM on
    expect(policy.receive()).toBe('ignore');
    now += 2_900;
    expect(policy.receive()).toBe('ignore');
    now += 23; // 3 s after the first: a person insisting
    expect(policy.receive()).toBe('force');
    expect(policy.receive()).toBe('force');
  });
});

describe('Lifecycle.installSignalHandlers', () => {
  const watched: string[] = [...shutdownSignals, 'uncaughtException', 'unhandledRejection'];
  const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals);
  const before = new Map(watched.map((event) => [event, listenersOf(event)]));
  afterEach(() => {
    // Leave the test process's own handlers as they were.
    for (const event of watched) {
      for (const listener of listenersOf(event)) {
        if (!before.get(event)?.includes(listener)) process.removeListener(event, listener);
      }
    }
  });

  const install = (steps: (() => Promise<void>)[] = [], forceAfterMs = 200) => {
    const lifecycle = new Lifecycle(silentLogger(), 5_000);
    steps.forEach((step, index) => lifecycle.defer(`step ${index}`, step));
    const exits: number[] = [];
    let exited!: (code: number) => void;
    const firstExit = new Promise<number>((resolve) => (exited = resolve));
    lifecycle.installSignalHandlers({
      forceAfterMs,
      exit: ((code: number) => {
        exits.push(code);
        exited(code);
      }) as (code: number) => never,
    });
    return { lifecycle, exits, firstExit };
  };

  it.each(shutdownSignals)('%s drains and exits 0', async (signal) => {
    let drained = false;
    const { exits, firstExit } = install([() => Promise.resolve(void (drained = true))]);
    process.emit(signal, signal);
    expect(await firstExit).toBe(0);
    expect(drained).toBe(true);
    expect(exits).toEqual([0]);
  });

  it('a repeated signal within the grace period does not force exit 130 (the drain finishes with 0)', async () => {
    let finish!: () => void;
    const { exits, firstExit, lifecycle } = install([() => new Promise<void>((resolve) => (finish = resolve))]);
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(lifecycle.isShuttingDown).toBe(true);
    expect(exits).toEqual([]);
    finish();
    expect(await firstExit).toBe(0);
    expect(exits).toEqual([0]);
  });

  it('a signal after the grace period forces exit 130 while a step is still draining', async () => {
    const { exits, firstExit } = install([() => new Promise<void>(() => undefined)], 50);
    process.emit('SIGTERM', 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 80));
    process.emit('SIGINT', 'SIGINT');
    expect(await firstExit).toBe(130);
    expect(exits).toEqual([130]);
  });
});
