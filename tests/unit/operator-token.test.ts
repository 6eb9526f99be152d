import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/platform/config.js';
import type { Logger } from '../../src/platform/logger.js';
import { resolveOperatorToken } from '../../src/platform/secrets.js';
import { announceOperatorPages } from '../../src/roles/operator-pages.js';
import { presentedToken } from '../../src/server/admin/queue-board.js';

const dirs: string[] = [];
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-operator-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A logger that keeps what `info` was given. */
function recordingLogger() {
  const lines: { message: string; meta: Record<string, unknown> }[] = [];
  const logger = { info: (message: string, meta: Record<string, unknown>) => lines.push({ message, meta }) } as unknown as Logger;
  return { logger, lines };
}

describe('the operator token', () => {
  it('is generated once outside production and kept in DATA_DIR (mode 600)', async () => {
    const config = parseConfig({ DATA_DIR: await dataDir() });
    const token = await resolveOperatorToken(config);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(await resolveOperatorToken(config)).toBe(token);
    const file = path.join(config.DATA_DIR, 'operator-token');
    expect((await readFile(file, 'utf8')).trim()).toBe(token);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('is OPERATOR_TOKEN when set, and then nothing is written', async () => {
    const config = parseConfig({ DATA_DIR: await dataDir(), OPERATOR_TOKEN: 't'.repeat(40) });
    expect(await resolveOperatorToken(config)).toBe('t'.repeat(40));
    await expect(stat(path.join(config.DATA_DIR, 'operator-token'))).rejects.toThrow(/ENOENT/);
  });

  it('is logged at a zero-config start with the dashboard and queue UI URLs, unless it came from the environment', async () => {
    const generated = parseConfig({ DATA_DIR: await dataDir() });
    const { logger, lines } = recordingLogger();
    await announceOperatorPages(generated, 'http://localhost:3000', logger);
    expect(lines).toEqual([
      {
        message: 'operator pages',
        meta: {
          dashboardUrl: 'http://localhost:3000/dashboard',
          queuesUrl: 'http://localhost:3000/admin/queues',
          operatorToken: await resolveOperatorToken(generated),
          operatorTokenFile: path.join(generated.DATA_DIR, 'operator-token'),
        },
      },
    ]);

    const fromEnv = recordingLogger();
    await announceOperatorPages(parseConfig({ DATA_DIR: await dataDir(), OPERATOR_TOKEN: 's'.repeat(40) }), 'http://localhost:3000', fromEnv.logger);
    expect(JSON.stringify(fromEnv.lines)).not.toContain('s'.repeat(40));
  });

  it('is read from a Bearer header or as the basic-auth password', () => {
    const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;
    expect(presentedToken('Bearer abc')).toBe('abc');
    expect(presentedToken('bearer abc')).toBe('abc');
    expect(presentedToken(basic('anyone:abc'))).toBe('abc');
    expect(presentedToken(basic(':a:b:c'))).toBe('a:b:c');
    expect(presentedToken(basic('abc'))).toBeUndefined();
    expect(presentedToken('Bearer')).toBeUndefined();
    expect(presentedToken('Bearer a b')).toBeUndefined();
    expect(presentedToken('Digest abc')).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
  });
});
