import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';

/**
 * The HS256 secret: JWT_SECRET when set; otherwise (development, tests) one generated on first
 * start and kept in DATA_DIR so tokens survive restarts. Config refuses a missing secret in production.
 */
export async function resolveJwtSecret(config: Config): Promise<string | undefined> {
  if (config.JWT_ALGORITHM !== 'HS256') return undefined;
  if (config.JWT_SECRET) return config.JWT_SECRET;
  const file = path.join(config.DATA_DIR, 'jwt-secret');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing.length >= 32) return existing;
  const secret = randomBytes(48).toString('base64url');
  await mkdir(config.DATA_DIR, { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
