import { describe, expect, it } from 'vitest';
import { jobNames, type JobName } from '../../src/contracts/queues.js';
import { buildHandlerRegistry, HandlerRegistryError, type JobHandler } from '../../src/workers/registry.js';

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
