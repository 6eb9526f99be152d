import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { Config } from './config.js';
import { CredentialVault, generateKey } from './credential-vault.js';

/**
 * A secret generated on first start and kept in DATA_DIR (development, tests), so what it
 * signs survives restarts. Config refuses a missing secret in production.
 */
async function persistedSecret(dataDir: string, name: string, generate = () => randomBytes(48).toString('base64url')): Promise<string> {
  const file = path.join(dataDir, name);
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing.length >= 32) return existing;
  const secret = generate();
  await mkdir(dataDir, { recursive: true });
  // Atomically: a process starting beside this one reads the whole secret or none.
  await writeFileAtomic(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** The HS256 secret: JWT_SECRET when set, otherwise DATA_DIR/jwt-secret. */
export async function resolveJwtSecret(config: Config): Promise<string | undefined> {
  if (config.JWT_ALGORITHM !== 'HS256') return undefined;
  return config.JWT_SECRET ?? persistedSecret(config.DATA_DIR, 'jwt-secret');
}

/** The key mystery box rolls are derived from: BOX_SECRET when set, otherwise DATA_DIR/box-secret. */
export async function resolveBoxSecret(config: Config): Promise<string> {
  return config.BOX_SECRET ?? persistedSecret(config.DATA_DIR, 'box-secret');
}

/** Where a generated operator token is kept outside production. */
export const OPERATOR_TOKEN_FILE = 'operator-token';

/** The operator's credential for the queue admin UI: OPERATOR_TOKEN when set, otherwise DATA_DIR/operator-token. */
export async function resolveOperatorToken(config: Config): Promise<string> {
  return config.OPERATOR_TOKEN ?? persistedSecret(config.DATA_DIR, OPERATOR_TOKEN_FILE);
}

/** Where a generated credentials key is kept outside production (losing it loses every stored integration secret). */
export const CREDENTIALS_KEY_FILE = 'credentials-key';

/** The vault sealing integration secrets: CREDENTIALS_KEY when set, otherwise a key generated into DATA_DIR/credentials-key. */
export async function resolveCredentialVault(config: Config): Promise<CredentialVault> {
  return CredentialVault.fromKeyRing(config.CREDENTIALS_KEY ?? (await persistedSecret(config.DATA_DIR, CREDENTIALS_KEY_FILE, generateKey)));
}
