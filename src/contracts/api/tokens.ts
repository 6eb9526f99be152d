import { z } from 'zod';
import { externalUserId, ianaTimeZone, storableString, userRoleSchema } from './common.js';

export const createTokenRequestSchema = z
  .object({
    userId: externalUserId,
    displayName: storableString(128).optional(),
    timezone: ianaTimeZone.optional(),
    role: userRoleSchema.optional(),
  })
  .strict()
  .meta({ id: 'CreateTokenRequest', example: { userId: 'user-42', displayName: 'Ada', timezone: 'Europe/London' } });

export const refreshTokenRequestSchema = z
  .object({ refreshToken: z.string().min(1).max(256) })
  .strict()
  .meta({ id: 'RefreshTokenRequest', example: { refreshToken: 'phr_0190c1a2b3c47d8e9f00112233445566_6t5Qd3nJ0m2Yb8pXo1Lr4s7Vw9Zc2Ae5Gh8Jk1Mn3Pq' } });

export const tokenUserSchema = z.object({
  id: z.uuid(),
  externalId: z.string(),
  timezone: z.string(),
  role: userRoleSchema,
});

export const tokenPairSchema = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int().meta({ description: 'Seconds until the access token expires' }),
    user: tokenUserSchema,
  })
  .meta({
    id: 'TokenPair',
    example: {
      accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0aWQiOiIuLi4ifQ.c2lnbmF0dXJl',
      refreshToken: 'phr_0190c1a2b3c47d8e9f00112233445566_6t5Qd3nJ0m2Yb8pXo1Lr4s7Vw9Zc2Ae5Gh8Jk1Mn3Pq',
      expiresIn: 900,
      user: { id: '0190c1a2-b3c4-7d8e-9f00-112233445566', externalId: 'user-42', timezone: 'Europe/London', role: 'member' },
    },
  });

export type CreateTokenRequest = z.infer<typeof createTokenRequestSchema>;
export type TokenPair = z.infer<typeof tokenPairSchema>;
