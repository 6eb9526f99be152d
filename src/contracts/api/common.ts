import { z } from 'zod';
import { findUnsafeInput, INPUT_MESSAGES, MAX_INPUT_DEPTH } from './input-safety.js';

/** Postgres cannot store U+0000 in text or jsonb: refuse it at the door (400) rather than fail the write (500). */
export const hasNoNul = (value: string) => !value.includes('\u0000');
const NO_NUL = { message: INPUT_MESSAGES.nul };
/** A lone surrogate becomes U+FFFD on its way to UTF-8: `\ud800` and `\udfff` would be stored, and deduplicated, as one value. */
const WELL_FORMED = { message: INPUT_MESSAGES.illFormed };

/** A string Postgres can store as it was sent: 1 to `max` characters, no NUL, well-formed Unicode. */
export const storableString = (max: number) => z.string().min(1).max(max).refine(hasNoNul, NO_NUL).refine((value) => value.isWellFormed(), WELL_FORMED);

/**
 * JSON that Postgres can store as jsonb: no NUL and no lone surrogate anywhere in it, keys
 * included, nested at most MAX_INPUT_DEPTH levels. Checked iteratively, so any depth is safe to ask about.
 */
export const isStorableJson = (value: unknown) => findUnsafeInput(value) === undefined;
export const STORABLE_JSON = { message: `must be well-formed Unicode with no NUL (U+0000), nested at most ${MAX_INPUT_DEPTH} levels` };

/**
 * A free-form JSON object (event `data`, a stream message) that is storable (see isStorableJson)
 * and at most `maxBytes` as JSON. The safety walk runs first and stops validation when it fails:
 * JSON.stringify recurses, and must never see a payload nested thousands of levels deep. A problem
 * is reported on the field itself, the spot inside it in the message: the client's own JSON has
 * no schema to name.
 */
export const storableJsonObject = (maxBytes: number) =>
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const unsafe = findUnsafeInput(value);
    if (unsafe) {
      // The spot of a bad string helps; that of too deep nesting would be 32 segments of noise.
      const at = unsafe.path && unsafe.reason !== 'too_deep' ? ` (at ${unsafe.path})` : '';
      ctx.addIssue({ code: 'custom', message: `${unsafe.message}${at}`, input: value });
      return;
    }
    if (Buffer.byteLength(JSON.stringify(value)) > maxBytes) ctx.addIssue({ code: 'custom', message: `must be at most ${maxBytes} bytes as JSON`, input: value });
  });

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

const MAX_FUTURE_MS = 5 * 60 * 1000;
const MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/** An ISO instant (an event's `occurredAt`, a reading's `observedAt`) no more than 5 minutes ahead and 30 days back of the hub's clock. */
export const recentInstant = () =>
  z.iso
    .datetime({ offset: true })
    .refine((value) => Date.parse(value) <= Date.now() + MAX_FUTURE_MS, { message: 'is more than 5 minutes in the future' })
    .refine((value) => Date.parse(value) >= Date.now() - MAX_AGE_MS, { message: 'is more than 30 days old' })
    .meta({ example: '2026-11-22T08:30:00Z' });

/**
 * The body of an ingest request: one item, or `{ [field]: [...] }` with 1 to `max` of them. Returns
 * the batch object (OpenAPI component `ids.batch`) and the union of both forms (component
 * `ids.request`, with `ids.example` as its example).
 */
export function singleOrBatch<Item extends z.ZodType, Field extends string>(item: Item, field: Field, max: number, ids: { batch: string; request: string; example: z.input<Item> }) {
  const shape = { [field]: z.array(item).min(1).max(max) } as { [K in Field]: z.ZodArray<Item> };
  const batch = z.object(shape).strict().meta({ id: ids.batch });
  const request = z.union([item, batch]).meta({ id: ids.request, example: ids.example });
  return { batch, request };
}
