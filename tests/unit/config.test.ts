import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/platform/config.js';

function issuesOf(env: Record<string, string>) {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('parseConfig', () => {
  it('fills every default from an empty environment', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      HOST: '0.0.0.0',
      PORT: 3000,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      REDIS_PREFIX: 'pulse',
      BACKUP_CRON: '0 3 * * *',
      BACKUP_KEEP_DAILY: 7,
      BACKUP_KEEP_WEEKLY: 4,
      BACKUP_KEEP_MONTHLY: 6,
      BACKUP_RETAIN: 1,
      PG_DUMP_BIN: 'pg_dump',
    });
    expect(config.PG_RESTORE_BIN).toBeUndefined();
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.DATA_DIR).toBe(path.resolve('.data'));
    expect(config.BACKUP_DIR).toBe(path.resolve('.data/backups'));
  });

  it('coerces numbers and keeps given URLs', () => {
    const config = parseConfig({ PORT: '8080', DATABASE_URL: 'postgresql://u:p@db:5432/pulse', REDIS_URL: 'rediss://cache:6380' });
    expect(config.PORT).toBe(8080);
    expect(config.DATABASE_URL).toBe('postgresql://u:p@db:5432/pulse');
    expect(config.REDIS_URL).toBe('rediss://cache:6380');
  });

  it('treats empty variables as unset', () => {
    const config = parseConfig({ PORT: '', DATABASE_URL: '' });
    expect(config.PORT).toBe(3000);
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://localhost/pulse'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['LOG_LEVEL', 'loud'],
    ['BACKUP_CRON', 'daily'],
    ['BACKUP_KEEP_WEEKLY', '-1'],
    ['BACKUP_RETAIN', '0'],
    ['REDIS_PREFIX', 'has space'],
  ])('rejects %s=%s, naming the variable', (variable, value) => {
    const issues = issuesOf({ [variable]: value });
    expect(issues.map((issue) => issue.variable)).toEqual([variable]);
  });

  it('reports every bad variable at once', () => {
    const issues = issuesOf({ PORT: 'x', DATABASE_URL: 'y' });
    expect(issues.map((issue) => issue.variable).sort()).toEqual(['DATABASE_URL', 'PORT']);
  });

  it('requires the JWT and box secrets in production, and PEM keys for asymmetric algorithms', () => {
    expect(issuesOf({ NODE_ENV: 'production' }).map((issue) => issue.variable)).toEqual(['BOX_SECRET', 'CREDENTIALS_KEY', 'OPERATOR_TOKEN', 'JWT_SECRET']);
    expect(issuesOf({ BOX_SECRET: 'short' }).map((issue) => issue.variable)).toEqual(['BOX_SECRET']);
    expect(issuesOf({ JWT_ALGORITHM: 'EdDSA' }).map((issue) => issue.variable).sort()).toEqual(['JWT_PRIVATE_KEY', 'JWT_PUBLIC_KEY']);
    expect(issuesOf({ JWT_SECRET: 'too short' }).map((issue) => issue.variable)).toEqual(['JWT_SECRET']);
  });

  it('takes CREDENTIALS_KEY as one base64 32-byte key or a ring of id:key, required in production; custom provider URLs only outside production by default', () => {
    const keyA = Buffer.alloc(32, 1).toString('base64');
    const keyB = Buffer.alloc(32, 2).toString('base64');
    expect(parseConfig({ CREDENTIALS_KEY: keyA }).CREDENTIALS_KEY).toBe(keyA);
    expect(parseConfig({ CREDENTIALS_KEY: `new:${keyB},old:${keyA}` }).CREDENTIALS_KEY).toBe(`new:${keyB},old:${keyA}`);
    for (const bad of ['short', Buffer.alloc(16).toString('base64'), `a b:${keyA}`, `a:${keyA},a:${keyB}`]) {
      expect(issuesOf({ CREDENTIALS_KEY: bad }).map((issue) => issue.variable)).toEqual(['CREDENTIALS_KEY']);
    }
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), BOX_SECRET: 'y'.repeat(32), OPERATOR_TOKEN: 'z'.repeat(32) };
    expect(issuesOf(production).map((issue) => issue.variable)).toEqual(['CREDENTIALS_KEY']);
    expect(parseConfig({ ...production, CREDENTIALS_KEY: keyA }).INTEGRATIONS_ALLOW_CUSTOM_URLS).toBe(false);
    expect(parseConfig({}).INTEGRATIONS_ALLOW_CUSTOM_URLS).toBe(true);
    expect(parseConfig({ INTEGRATIONS_ALLOW_CUSTOM_URLS: 'false' }).INTEGRATIONS_ALLOW_CUSTOM_URLS).toBe(false);
  });

  it('refuses a production start without OPERATOR_TOKEN (the queue admin UI), naming the variable', () => {
    const secrets = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), BOX_SECRET: 'y'.repeat(32), CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64') };
    const issues = issuesOf(secrets);
    expect(issues.map((issue) => issue.variable)).toEqual(['OPERATOR_TOKEN']);
    expect(issues[0]?.message).toMatch(/required in production/);
    expect(() => parseConfig(secrets)).toThrow(/OPERATOR_TOKEN/);
    expect(issuesOf({ ...secrets, OPERATOR_TOKEN: 'short' }).map((issue) => issue.variable)).toEqual(['OPERATOR_TOKEN']);
    expect(parseConfig({ ...secrets, OPERATOR_TOKEN: 'z'.repeat(32) }).OPERATOR_TOKEN).toBe('z'.repeat(32));
    // Outside production it may stay unset: the hub generates one into DATA_DIR.
    expect(parseConfig({}).OPERATOR_TOKEN).toBeUndefined();
  });

  it('writes readable logs only to a development terminal', () => {
    expect(parseConfig({}, true).LOG_FORMAT).toBe('pretty');
    expect(parseConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), BOX_SECRET: 'y'.repeat(32), OPERATOR_TOKEN: 'z'.repeat(32), CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64') }, true).LOG_FORMAT).toBe('json');
    expect(parseConfig({ LOG_FORMAT: 'pretty' }, false).LOG_FORMAT).toBe('pretty');
  });
});
