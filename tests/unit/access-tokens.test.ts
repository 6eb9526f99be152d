import { randomUUID } from 'node:crypto';
import { exportPKCS8, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AccessTokens } from '../../src/server/auth/access-tokens.js';
import { parseConfig } from '../../src/platform/config.js';

const secret = 'a'.repeat(48);
const subject = { userId: randomUUID(), tenantId: randomUUID(), role: 'member' as const, familyId: randomUUID() };

async function rejection(tokens: AccessTokens, token: string) {
  return tokens.verify(token).then(
    () => 'accepted',
    (error: { code?: string }) => error.code,
  );
}

describe('AccessTokens', () => {
  it('signs HS256 tokens with sub, tid, role, exp and jti, and verifies them', async () => {
    const tokens = await AccessTokens.create(parseConfig({ JWT_SECRET: secret }), secret);
    const { token, expiresIn } = await tokens.sign(subject);
    expect(expiresIn).toBe(900);
    const claims = await tokens.verify(token);
    expect(claims).toMatchObject({ userId: subject.userId, tenantId: subject.tenantId, role: 'member' });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.expiresAt.getTime()).toBeGreaterThan(Date.now() + 890_000);
  });

  it('reports an expired token as token_expired', async () => {
    const tokens = await AccessTokens.create(parseConfig({ JWT_SECRET: secret, ACCESS_TOKEN_TTL_SECONDS: '1' }), secret);
    const expired = await new SignJWT({ tid: subject.tenantId, role: 'member' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject.userId)
      .setIssuer('pulse-hub')
      .setJti(randomUUID())
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(new TextEncoder().encode(secret));
    expect(await rejection(tokens, expired)).toBe('token_expired');
  });

  it('rejects alg "none", a wrong key, a wrong issuer and missing claims', async () => {
    const tokens = await AccessTokens.create(parseConfig({ JWT_SECRET: secret }), secret);
    const unsecured = new UnsecuredJWT({ tid: subject.tenantId, role: 'admin' }).setSubject(subject.userId).setIssuer('pulse-hub').setExpirationTime('5m').encode();
    const sign = (claims: Record<string, unknown>, key: string, issuer = 'pulse-hub') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(subject.userId).setIssuer(issuer).setJti(randomUUID()).setExpirationTime('5m').sign(new TextEncoder().encode(key));
    expect(await rejection(tokens, unsecured)).toBe('unauthorized');
    const fam = subject.familyId;
    expect(await rejection(tokens, await sign({ tid: subject.tenantId, role: 'member', fam }, secret))).toBe('accepted');
    expect(await rejection(tokens, await sign({ tid: subject.tenantId, role: 'member', fam }, 'b'.repeat(48)))).toBe('unauthorized');
    expect(await rejection(tokens, await sign({ tid: subject.tenantId, role: 'member', fam }, secret, 'someone-else'))).toBe('unauthorized');
    expect(await rejection(tokens, await sign({ role: 'member', fam }, secret))).toBe('unauthorized');
    expect(await rejection(tokens, await sign({ tid: subject.tenantId, role: 'member' }, secret))).toBe('unauthorized');
    expect(await rejection(tokens, await sign({ tid: subject.tenantId, role: 'owner', fam }, secret))).toBe('unauthorized');
    expect(await rejection(tokens, 'not.a.jwt')).toBe('unauthorized');
  });

  it('refuses a token of a revoked login as session_revoked, and keeps accepting the others', async () => {
    const revokedFamilies = new Set<string>();
    const tokens = await AccessTokens.create(parseConfig({ JWT_SECRET: secret }), secret, { isRevoked: (id) => Promise.resolve(revokedFamilies.has(id)) });
    const other = { ...subject, familyId: randomUUID() };
    const [mine, theirs] = [(await tokens.sign(subject)).token, (await tokens.sign(other)).token];
    revokedFamilies.add(subject.familyId);
    expect(await rejection(tokens, mine)).toBe('session_revoked');
    expect((await tokens.verify(theirs)).familyId).toBe(other.familyId);
  });

  it('with RS256 refuses an HS256 token "signed" with the public key (algorithm confusion)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const publicPem = await exportSPKI(publicKey);
    const config = parseConfig({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: await exportPKCS8(privateKey), JWT_PUBLIC_KEY: publicPem });
    const tokens = await AccessTokens.create(config, undefined);
    const genuine = await tokens.sign(subject);
    expect((await tokens.verify(genuine.token)).userId).toBe(subject.userId);
    const confused = await new SignJWT({ tid: subject.tenantId, role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject.userId)
      .setIssuer('pulse-hub')
      .setJti(randomUUID())
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(publicPem));
    expect(await rejection(tokens, confused)).toBe('unauthorized');
  });

  it('signs and verifies EdDSA tokens', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const config = parseConfig({ JWT_ALGORITHM: 'EdDSA', JWT_PRIVATE_KEY: await exportPKCS8(privateKey), JWT_PUBLIC_KEY: await exportSPKI(publicKey) });
    const tokens = await AccessTokens.create(config, undefined);
    expect((await tokens.verify((await tokens.sign(subject)).token)).tenantId).toBe(subject.tenantId);
  });
});
