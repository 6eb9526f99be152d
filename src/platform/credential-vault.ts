import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (provider tokens, API keys, client secrets): AES-256-GCM with a random 12-byte
 * IV per encryption, the 16-byte tag checked on every read, and the id of the key beside the
 * ciphertext. The key ring's first key encrypts; every key of the ring decrypts, so a new key is
 * deployed first (new first, old second) and `npm run credentials:rotate` then re-encrypts what
 * the old one sealed, with no downtime.
 *
 * Envelope (text, one column): `v1.<keyId>.<iv>.<tag>.<ciphertext>`, base64url parts. Each
 * encryption is bound to a context (e.g. `connection:<id>:access_token`) as additional
 * authenticated data: a ciphertext copied onto another row fails like a tampered one.
 */

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

export interface VaultKey {
  id: string;
  key: Buffer;
}

export type VaultFailure = 'malformed' | 'unknown_key' | 'tampered';

/** A secret that cannot be read back: the caller marks what holds it `broken`. Never carries the secret. */
export class CredentialDecryptError extends Error {
  constructor(
    readonly reason: VaultFailure,
    readonly keyId: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'CredentialDecryptError';
  }
}

/** The id of a key given without one: derived from the key, so it is the same on every process. */
export const derivedKeyId = (key: Buffer): string => `k${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;

/** Why a CREDENTIALS_KEY value is not a key ring, or undefined when it is one. */
export function keyRingProblem(text: string): string | undefined {
  try {
    parseKeyRing(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * `base64` (one 32-byte key, its id derived) or `id:base64,id:base64,...` (a ring; the first is
 * the current key). Throws a message naming what is wrong, never the key.
 */
export function parseKeyRing(text: string): VaultKey[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('must hold at least one key');
  const keys = entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon === -1 ? undefined : entry.slice(0, colon);
    const encoded = colon === -1 ? entry : entry.slice(colon + 1);
    if (id !== undefined && !KEY_ID.test(id)) throw new Error(`key ${i + 1}: the id must be 1 to 32 letters, digits, "_" or "-"`);
    if (!BASE64_KEY.test(encoded)) throw new Error(`key ${i + 1}: must be 32 bytes in base64 (44 characters, e.g. from \`openssl rand -base64 32\`)`);
    const key = Buffer.from(encoded.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
    if (key.length !== KEY_BYTES) throw new Error(`key ${i + 1}: must decode to 32 bytes`);
    return { id: id ?? derivedKeyId(key), key };
  });
  const ids = keys.map((key) => key.id);
  const doubled = ids.find((id, i) => ids.indexOf(id) !== i);
  if (doubled) throw new Error(`key id "${doubled}" appears twice`);
  return keys;
}

/** A fresh key ring entry, as written to DATA_DIR outside production. */
export const generateKey = (): string => randomBytes(KEY_BYTES).toString('base64');

export class CredentialVault {
  private readonly keys: Map<string, Buffer>;
  readonly currentKeyId: string;

  constructor(ring: VaultKey[]) {
    const [current] = ring;
    if (!current) throw new Error('a credential vault needs at least one key');
    this.currentKeyId = current.id;
    this.keys = new Map(ring.map((entry) => [entry.id, entry.key]));
  }

  static fromKeyRing(text: string): CredentialVault {
    return new CredentialVault(parseKeyRing(text));
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Seals `plaintext` under the current key, bound to `context`. */
  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId) as Buffer, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  /** Opens an envelope sealed for `context` under any key of the ring; throws CredentialDecryptError otherwise. */
  decrypt(envelope: string, context: string): string {
    const parts = envelope.split('.');
    const [version, keyId, ivText, tagText, ciphertextText] = parts;
    if (parts.length !== 5 || version !== VERSION || !keyId || ivText === undefined || tagText === undefined || ciphertextText === undefined) {
      throw new CredentialDecryptError('malformed', undefined, 'the stored secret is not a v1 envelope');
    }
    const key = this.keys.get(keyId);
    if (!key) throw new CredentialDecryptError('unknown_key', keyId, `the stored secret was sealed with key "${keyId}", which is not in CREDENTIALS_KEY`);
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new CredentialDecryptError('malformed', keyId, 'the stored secret has a bad IV or tag length');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(ciphertextText, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new CredentialDecryptError('tampered', keyId, 'the stored secret fails its authentication tag (tampered, or moved from another row)');
    }
  }

  /** The key id an envelope names (undefined when it is not an envelope). */
  static keyIdOf(envelope: string): string | undefined {
    const [version, keyId] = envelope.split('.');
    return version === VERSION && keyId ? keyId : undefined;
  }

  /** Opens and reseals under the current key (for rotation). */
  reseal(envelope: string, context: string): string {
    return this.encrypt(this.decrypt(envelope, context), context);
  }
}
