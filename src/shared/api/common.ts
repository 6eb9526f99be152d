import { z } from 'zod';

/** Postgres cannot store U+0000 in text or jsonb: refuse it at the door (400) rather than fail the write (500). */
export const hasNoNul = (value: string) => !value.includes('\u0000');
const NO_NUL = { message: 'must not contain the NUL character (U+0000)' };

/** A string Postgres can store: 1 to `max` characters, no NUL. */
export const storableString = (max: number) => z.string().min(1).max(max).refine(hasNoNul, NO_NUL);

/** JSON that Postgres can store as jsonb: no NUL anywhere in it, keys included. */
export const isStorableJson = (value: unknown) => !JSON.stringify(value).includes('\\u0000');
export const STORABLE_JSON = NO_NUL;

/** The tenant's own id for one of its users. */
export const externalUserId = storableString(128).meta({ description: "The tenant's own id for the user", example: 'user-42' });

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
