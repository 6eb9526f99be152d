import { describe, expect, it } from 'vitest';
import winston from 'winston';
import Transport from 'winston-transport';
import { checkRedisPersistence } from '../../src/platform/redis-persistence.js';

type Config = Record<string, string> | Error | 'hang';

/** A Redis stand-in answering CONFIG GET like a server configured with `settings`. */
const fakeRedis = (settings: Config) => ({
  config: (_: 'GET', name: string) => {
    if (settings === 'hang') return new Promise(() => undefined);
    if (settings instanceof Error) return Promise.reject(settings);
    return Promise.resolve(name in settings ? [name, settings[name]] : []);
  },
});

function capturingLogger() {
  const lines: { level: string; message: string }[] = [];
  const transport = new (class extends Transport {
    override log(info: { level: string; message: string }, next: () => void) {
      lines.push(info);
      next();
    }
  })();
  return { logger: winston.createLogger({ level: 'debug', transports: [transport] }), lines };
}

describe('checkRedisPersistence', () => {
  it('warns when Redis persists nothing, saying what a restart costs', async () => {
    const { logger, lines } = capturingLogger();
    const result = await checkRedisPersistence(fakeRedis({ appendonly: 'no', save: '' }) as never, logger);
    expect(result).toMatchObject({ checked: true, persists: false });
    const warning = lines.find((line) => line.level === 'warn');
    expect(warning?.message).toMatch(/persists nothing/);
    expect(warning?.message).toMatch(/re-queues lost work from Postgres/);
    expect(warning?.message).toMatch(/rate limits/);
  });

  it.each([
    [{ appendonly: 'yes', save: '' }],
    [{ appendonly: 'no', save: '3600 1 300 100' }],
  ])('logs at info when %o persists', async (settings) => {
    const { logger, lines } = capturingLogger();
    expect(await checkRedisPersistence(fakeRedis(settings) as never, logger)).toMatchObject({ checked: true, persists: true });
    expect(lines.map((line) => line.level)).toEqual(['info']);
  });

  it.each([
    ['refused', new Error("ERR unknown command 'CONFIG'")],
    ['unanswered', 'hang' as const],
    ['incomplete', { appendonly: 'yes' }],
  ])('logs at info that it could not check when CONFIG GET is %s', async (_, settings) => {
    const { logger, lines } = capturingLogger();
    expect(await checkRedisPersistence(fakeRedis(settings) as never, logger, 50)).toMatchObject({ checked: false });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', message: expect.stringMatching(/could not check Redis persistence/) as unknown });
  });
});
