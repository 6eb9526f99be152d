import { randomUUID } from 'node:crypto';
import { errors, importPKCS8, importSPKI, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { Config } from '../../platform/config.js';
import { userRoles, type UserRole } from '../../repositories/db/schema.js';

export interface AccessClaims {
  userId: string;
  tenantId: string;
  role: UserRole;
  jti: string;
  /** The refresh-token family (one login) the token was issued in: revoking it ends the login's access tokens too. */
  familyId: string;
  expiresAt: Date;
}

export type AccessTokenFailure = 'unauthorized' | 'token_expired' | 'session_revoked';

/** Logins whose access tokens must stop working before they expire (see RevokedFamilies). */
export interface RevocationCheck {
  isRevoked(familyId: string): Promise<boolean>;
}

const failureMessages: Record<AccessTokenFailure, string> = {
  unauthorized: 'invalid access token',
  token_expired: 'access token expired',
  session_revoked: 'the session was revoked: sign in again',
};

export class AccessTokenError extends Error {
  constructor(readonly code: AccessTokenFailure) {
    super(failureMessages[code]);
    this.name = 'AccessTokenError';
  }
}

type Key = CryptoKey | Uint8Array;
const pem = (value: string) => value.replaceAll('\\n', '\n');

/**
 * Signs and verifies user access tokens. Verification accepts exactly the configured algorithm,
 * which rules out `alg: none` and algorithm confusion (an HS256 token "signed" with a public key).
 */
export class AccessTokens {
  private constructor(
    private readonly algorithm: Config['JWT_ALGORITHM'],
    private readonly signingKey: Key,
    private readonly verifyingKey: Key,
    private readonly issuer: string,
    readonly ttlSeconds: number,
    private readonly revocations: RevocationCheck | undefined,
  ) {}

  static async create(config: Config, hmacSecret: string | undefined, revocations?: RevocationCheck): Promise<AccessTokens> {
    const { JWT_ALGORITHM: algorithm, JWT_ISSUER: issuer, ACCESS_TOKEN_TTL_SECONDS: ttl } = config;
    if (algorithm === 'HS256') {
      if (!hmacSecret) throw new Error('JWT_SECRET is required for HS256');
      const key = new TextEncoder().encode(hmacSecret);
      return new AccessTokens(algorithm, key, key, issuer, ttl, revocations);
    }
    const signingKey = await importPKCS8(pem(config.JWT_PRIVATE_KEY as string), algorithm);
    const verifyingKey = await importSPKI(pem(config.JWT_PUBLIC_KEY as string), algorithm);
    return new AccessTokens(algorithm, signingKey, verifyingKey, issuer, ttl, revocations);
  }

  async sign(subject: { userId: string; tenantId: string; role: UserRole; familyId: string }): Promise<{ token: string; expiresIn: number }> {
    const token = await new SignJWT({ tid: subject.tenantId, role: subject.role, fam: subject.familyId })
      .setProtectedHeader({ alg: this.algorithm, typ: 'JWT' })
      .setSubject(subject.userId)
      .setIssuer(this.issuer)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.signingKey);
    return { token, expiresIn: this.ttlSeconds };
  }

  async verify(token: string): Promise<AccessClaims> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.verifyingKey, { algorithms: [this.algorithm], issuer: this.issuer }));
    } catch (error) {
      throw new AccessTokenError(error instanceof errors.JWTExpired ? 'token_expired' : 'unauthorized');
    }
    const { sub, tid, role, jti, exp, fam } = payload;
    if (
      typeof sub !== 'string' ||
      typeof tid !== 'string' ||
      typeof jti !== 'string' ||
      typeof fam !== 'string' ||
      typeof exp !== 'number' ||
      !userRoles.includes(role as UserRole)
    ) {
      throw new AccessTokenError('unauthorized');
    }
    if (await this.revocations?.isRevoked(fam)) throw new AccessTokenError('session_revoked');
    return { userId: sub, tenantId: tid, role: role as UserRole, jti, familyId: fam, expiresAt: new Date(exp * 1000) };
  }
}
