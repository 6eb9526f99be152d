import { describe, expect, it } from 'vitest';
import { jobNames, queueNames, type JobName } from '../../src/contracts/queues.js';
import { buildHandlerRegistry, HandlerRegistryError, type JobHandler } from '../../src/platform/queues/registry.js';
import { consumedJobNames, consumedQueues, queueConsumers, startWorkerPool } from '../../src/platform/queues/worker-pool.js';
import { silentLogger } from '../support/silent-logger.js';

const handlerFor = (name: string): JobHandler => ({ name: name as JobName, handle: () => Promise.resolve(name) });

describe('buildHandlerRegistry', () => {
  it('maps every job name to its one handler', () => {
    const registry = buildHandlerRegistry(jobNames.map(handlerFor));
    expect([...registry.keys()].sort()).toEqual([...jobNames].sort());
  });

  it('refuses a job name with no handler', () => {
    expect(() => buildHandlerRegistry([])).toThrow(HandlerRegistryError);
    expect(() => buildHandlerRegistry([])).toThrow(/no handler for job "db\.backup"/);
  });

  it('refuses two handlers for one job', () => {
    expect(() => buildHandlerRegistry([...jobNames.map(handlerFor), handlerFor('db.backup')])).toThrow(
      /two handlers for job "db\.backup"/,
    );
  });

  it('refuses a handler for a job that does not exist', () => {
    expect(() => buildHandlerRegistry([...jobNames.map(handlerFor), handlerFor('nope')])).toThrow(/unknown job "nope"/);
  });
});

describe('queue consumers', () => {
  it('gives every queue one consuming role and a concurrency, in one table', () => {
    expect(Object.keys(queueConsumers).sort()).toEqual([...queueNames].sort());
    expect([...consumedQueues('worker'), ...consumedQueues('hub')].sort()).toEqual([...queueNames].sort());
    expect(queueConsumers.realtime).toEqual({ role: 'hub', concurrency: 64 });
  });

  it('splits the jobs between the roles: the hub handles the realtime pushes, the worker everything else', () => {
    expect(consumedJobNames('hub')).toEqual(['realtime.deliver', 'realtime.signal', 'realtime.sync', 'realtime.backup']);
    expect(consumedJobNames('worker')).not.toContain('realtime.deliver');
    expect(consumedJobNames('worker')).toContain('signals.fuse');
    expect([...consumedJobNames('worker'), ...consumedJobNames('hub')].sort()).toEqual([...jobNames].sort());
  });

  it("refuses a hub registry without the realtime handler, or with it twice", () => {
    expect(() => buildHandlerRegistry([], consumedJobNames('hub'))).toThrow(/no handler for job "realtime\.deliver"/);
    expect(() => buildHandlerRegistry([handlerFor('realtime.deliver'), handlerFor('realtime.deliver')], consumedJobNames('hub'))).toThrow(
      /two handlers for job "realtime\.deliver"/,
    );
    expect(() => buildHandlerRegistry([handlerFor('realtime.deliver'), handlerFor('db.backup')], consumedJobNames('hub'))).toThrow(
      /unknown job "db\.backup"/,
    );
  });

  it("refuses to start a role's pool with a registry built for another role", () => {
    const workerRegistry = buildHandlerRegistry(consumedJobNames('worker').map(handlerFor), consumedJobNames('worker'));
    expect(() =>
      startWorkerPool({ role: 'hub', redisUrl: 'redis://127.0.0.1:1', prefix: 'unused', registry: workerRegistry, logger: silentLogger() }),
    ).toThrow(/hub pool has no handler for realtime\.deliver/);
  });
});
