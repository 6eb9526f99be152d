import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Opaque credentials: `<prefix>_<id as 32 hex>_<secret>`. The id finds the stored row without
 * a scan; only SHA-256 of the 256-bit secret is stored, compared in constant time.
 */
export type CredentialKind = 'apiKey' | 'refreshToken';

const prefixes: Record<CredentialKind, string> = { apiKey: 'phk', refreshToken: 'phr' };

const SHAPE = /^(ph[kr])_([0-9a-f]{32})_([\w-]{43})$/;

export interface IssuedCredential {
  id: string;
  token: string;
  secretHash: string;
}

export interface ParsedCredential {
  id: string;
  secret: string;
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

const toUuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

export function issueCredential(kind: CredentialKind, id: string = randomUUID()): IssuedCredential {
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `${prefixes[kind]}_${id.replaceAll('-', '')}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseCredential(kind: CredentialKind, token: string): ParsedCredential | undefined {
  const match = SHAPE.exec(token);
  if (!match || match[1] !== prefixes[kind]) return undefined;
  return { id: toUuid(match[2] as string), secret: match[3] as string };
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const given = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

export const isApiKey = (token: string) => token.startsWith(`${prefixes.apiKey}_`);
