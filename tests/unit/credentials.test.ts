import { describe, expect, it } from 'vitest';
import { hashSecret, isApiKey, issueCredential, parseCredential, secretMatches } from '../../src/platform/credentials.js';

describe('opaque credentials', () => {
  it('round-trips an issued API key to its id and a secret that matches the stored hash', () => {
    const issued = issueCredential('apiKey');
    expect(issued.token).toMatch(/^phk_[0-9a-f]{32}_[\w-]{43}$/);
    expect(isApiKey(issued.token)).toBe(true);
    const parsed = parseCredential('apiKey', issued.token);
    expect(parsed?.id).toBe(issued.id);
    expect(secretMatches(parsed?.secret ?? '', issued.secretHash)).toBe(true);
    expect(issued.secretHash).toBe(hashSecret(parsed?.secret ?? ''));
  });

  it('never matches a different secret', () => {
    const issued = issueCredential('apiKey');
    const other = issueCredential('apiKey');
    const parsed = parseCredential('apiKey', other.token);
    expect(secretMatches(parsed?.secret ?? '', issued.secretHash)).toBe(false);
  });

  it('keeps the kinds apart and rejects malformed tokens', () => {
    const refresh = issueCredential('refreshToken');
    expect(refresh.token.startsWith('phr_')).toBe(true);
    expect(parseCredential('apiKey', refresh.token)).toBeUndefined();
    expect(parseCredential('refreshToken', refresh.token)?.id).toBe(refresh.id);
    for (const bad of ['', 'phk_', 'phk_xyz_abc', `${refresh.token}x`, refresh.token.replace('phr_', 'PHR_')]) {
      expect(parseCredential('refreshToken', bad)).toBeUndefined();
    }
  });
});
