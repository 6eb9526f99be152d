import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialDecryptError, CredentialVault, derivedKeyId, keyRingProblem, parseKeyRing } from '../../src/platform/credential-vault.js';

const key = () => randomBytes(32).toString('base64');
const context = 'connection:1:api_key';

function decryptError(vault: CredentialVault, envelope: string, ctx = context): CredentialDecryptError {
  try {
    vault.decrypt(envelope, ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialDecryptError);
    return error as CredentialDecryptError;
  }
  throw new Error('expected the envelope to be refused');
}

describe('credential vault', () => {
  it('round-trips a secret, with a random 12-byte IV and a 16-byte tag per encryption, the key id beside it', () => {
    const vault = CredentialVault.fromKeyRing(`main:${key()}`);
    const secret = 'shpat_0123456789abcdef — ünïcode too';
    const first = vault.encrypt(secret, context);
    const second = vault.encrypt(secret, context);
    expect(vault.decrypt(first, context)).toBe(secret);
    expect(vault.decrypt(second, context)).toBe(secret);
    const [version, keyId, iv, tag, ciphertext] = first.split('.');
    expect([version, keyId]).toEqual(['v1', 'main']);
    expect(Buffer.from(iv as string, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag as string, 'base64url')).toHaveLength(16);
    expect(first).not.toContain('shpat');
    // Same plaintext, same key: different IV, different ciphertext.
    expect(second.split('.')[2]).not.toBe(iv);
    expect(second.split('.')[4]).not.toBe(ciphertext);
    const ivs = new Set(Array.from({ length: 200 }, () => vault.encrypt('x', context).split('.')[2]));
    expect(ivs.size).toBe(200);
    expect(CredentialVault.keyIdOf(first)).toBe('main');
  });

  it('refuses a tampered ciphertext, tag or IV loudly', () => {
    const vault = CredentialVault.fromKeyRing(key());
    const envelope = vault.encrypt('sk_live_secret_value', context);
    const parts = envelope.split('.');
    const flip = (text: string) => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[0] = (bytes[0] as number) ^ 0x01;
      return bytes.toString('base64url');
    };
    for (const index of [2, 3, 4]) {
      const tampered = parts.map((part, i) => (i === index ? flip(part) : part)).join('.');
      expect(decryptError(vault, tampered).reason).toBe('tampered');
    }
    expect(decryptError(vault, parts.slice(0, 4).join('.')).reason).toBe('malformed');
    expect(decryptError(vault, 'plaintext').reason).toBe('malformed');
    expect(decryptError(vault, [...parts.slice(0, 2), 'AAAA', ...parts.slice(3)].join('.')).reason).toBe('malformed');
    // The message never carries the secret.
    expect(decryptError(vault, parts.map((part, i) => (i === 4 ? flip(part) : part)).join('.')).message).not.toContain('sk_live');
  });

  it('binds a secret to its context: moved to another row or kind, it does not open', () => {
    const vault = CredentialVault.fromKeyRing(key());
    const envelope = vault.encrypt('token', 'connection:1:access_token');
    expect(decryptError(vault, envelope, 'connection:2:access_token').reason).toBe('tampered');
    expect(decryptError(vault, envelope, 'connection:1:refresh_token').reason).toBe('tampered');
  });

  it('names an unknown key id, and a key of the same id but other bytes fails the tag', () => {
    const sealed = CredentialVault.fromKeyRing(`old:${key()}`).encrypt('secret', context);
    const error = decryptError(CredentialVault.fromKeyRing(`new:${key()}`), sealed);
    expect(error.reason).toBe('unknown_key');
    expect(error.keyId).toBe('old');
    expect(decryptError(CredentialVault.fromKeyRing(`old:${key()}`), sealed).reason).toBe('tampered');
  });

  it('reads with every key of a ring and seals with the first: rotation re-seals old secrets under the new key', () => {
    const oldKey = key();
    const newKey = key();
    const before = CredentialVault.fromKeyRing(`old:${oldKey}`);
    const sealedOld = before.encrypt('refresh-me', context);
    const ring = CredentialVault.fromKeyRing(`new:${newKey},old:${oldKey}`);
    expect(ring.currentKeyId).toBe('new');
    expect(ring.keyIds).toEqual(['new', 'old']);
    expect(ring.decrypt(sealedOld, context)).toBe('refresh-me');
    const resealed = ring.reseal(sealedOld, context);
    expect(CredentialVault.keyIdOf(resealed)).toBe('new');
    // After rotation the old key can go.
    expect(CredentialVault.fromKeyRing(`new:${newKey}`).decrypt(resealed, context)).toBe('refresh-me');
    expect(decryptError(before, resealed).reason).toBe('unknown_key');
  });

  it('parses key rings: a bare key gets an id derived from it; bad keys, ids and doubled ids are refused', () => {
    const bare = key();
    const [only] = parseKeyRing(bare);
    expect(only?.id).toBe(derivedKeyId(Buffer.from(bare, 'base64')));
    expect(parseKeyRing(bare)[0]?.id).toBe(only?.id);
    expect(parseKeyRing(` a:${key()} , b:${key()} `).map((entry) => entry.id)).toEqual(['a', 'b']);
    expect(keyRingProblem(randomBytes(16).toString('base64'))).toMatch(/32 bytes/);
    expect(keyRingProblem(`bad id:${key()}`)).toMatch(/id/);
    expect(keyRingProblem(`a:${key()},a:${key()}`)).toMatch(/twice/);
    expect(keyRingProblem('')).toMatch(/at least one/);
    expect(keyRingProblem(`a:${key()}`)).toBeUndefined();
  });
});
