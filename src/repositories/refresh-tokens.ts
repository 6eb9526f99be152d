import { and, eq, isNull } from 'drizzle-orm';
import { issueCredential, parseCredential, secretMatches } from '../platform/credentials.js';
import type { Database } from './db/client.js';
import { refreshTokens, users, type UserRole } from './db/schema.js';
import { randomUUID } from 'node:crypto';

export interface RefreshSubject {
  tenantId: string;
  userId: string;
}

export type RotationOutcome =
  | { ok: true; token: string; familyId: string; user: { id: string; tenantId: string; externalId: string; timezone: string; role: UserRole } }
  | { ok: false; reason: 'invalid' | 'expired' | 'revoked' | 'reused'; familyId?: string };

/** Opaque rotating refresh tokens, stored as hashes; a family is one login's chain of rotations. */
export class RefreshTokenStore {
  constructor(
    private readonly db: Database,
    private readonly ttlSeconds: number,
  ) {}

  /** Starts a login: the first refresh token of a new family. */
  async issue(subject: RefreshSubject, familyId: string = randomUUID()): Promise<{ token: string; familyId: string }> {
    const credential = issueCredential('refreshToken');
    await this.db.insert(refreshTokens).values({
      id: credential.id,
      familyId,
      tenantId: subject.tenantId,
      userId: subject.userId,
      secretHash: credential.secretHash,
      expiresAt: new Date(Date.now() + this.ttlSeconds * 1000),
    });
    return { token: credential.token, familyId };
  }

  /** Revokes every live login of a user; returns the families revoked. */
  async revokeUser(subject: RefreshSubject): Promise<string[]> {
    const rows = await this.db
      .update(refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(refreshTokens.tenantId, subject.tenantId), eq(refreshTokens.userId, subject.userId), isNull(refreshTokens.revokedAt)))
      .returning({ familyId: refreshTokens.familyId });
    return [...new Set(rows.map((row) => row.familyId))];
  }

  /** Signs out the login a refresh token belongs to; `undefined` when the token is not one of ours. */
  async revokeFamilyOf(token: string): Promise<string | undefined> {
    const parsed = parseCredential('refreshToken', token);
    if (!parsed) return undefined;
    const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.id, parsed.id));
    if (!row || !secretMatches(parsed.secret, row.secretHash)) return undefined;
    await this.db
      .update(refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(refreshTokens.familyId, row.familyId), isNull(refreshTokens.revokedAt)));
    return row.familyId;
  }

  /**
   * Exchanges a refresh token for the next one in its family. Presenting a token that was
   * already rotated means two parties hold the family: the whole family is revoked.
   * `beforeRotate` runs with the family id known (rate limiting) and may throw to abort.
   */
  async rotate(token: string, beforeRotate: (familyId: string) => Promise<void>): Promise<RotationOutcome> {
    const parsed = parseCredential('refreshToken', token);
    if (!parsed) return { ok: false, reason: 'invalid' };
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(refreshTokens).where(eq(refreshTokens.id, parsed.id)).for('update');
      if (!row || !secretMatches(parsed.secret, row.secretHash)) return { ok: false, reason: 'invalid' } as const;
      const familyId = row.familyId;
      if (row.revokedAt) return { ok: false, reason: 'revoked', familyId } as const;
      if (row.rotatedAt) {
        await tx
          .update(refreshTokens)
          .set({ revokedAt: new Date() })
          .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
        return { ok: false, reason: 'reused', familyId } as const;
      }
      if (row.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired', familyId } as const;
      await beforeRotate(familyId);

      const [user] = await tx
        .select({ id: users.id, tenantId: users.tenantId, externalId: users.externalId, timezone: users.timezone, role: users.role })
        .from(users)
        .where(eq(users.id, row.userId));
      if (!user) return { ok: false, reason: 'invalid' } as const;
      await tx.update(refreshTokens).set({ rotatedAt: new Date() }).where(eq(refreshTokens.id, row.id));
      const next = issueCredential('refreshToken');
      await tx.insert(refreshTokens).values({
        id: next.id,
        familyId,
        tenantId: row.tenantId,
        userId: row.userId,
        secretHash: next.secretHash,
        expiresAt: new Date(Date.now() + this.ttlSeconds * 1000),
      });
      return { ok: true, token: next.token, familyId, user } as const;
    });
  }
}
