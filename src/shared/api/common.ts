import { z } from 'zod';

/** The tenant's own id for one of its users. */
export const externalUserId = z.string().min(1).max(128).meta({ description: "The tenant's own id for the user", example: 'user-42' });

export const isIanaTimeZone = (value: string): boolean => {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(value)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
};

export const ianaTimeZone = z
  .string()
  .refine(isIanaTimeZone, { message: 'must be an IANA time zone such as Europe/Paris' })
  .meta({ example: 'Europe/Paris' });

export const userRoleSchema = z.enum(['member', 'admin']);
