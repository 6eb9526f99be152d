import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/shared/runtime/lifecycle.js';
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
