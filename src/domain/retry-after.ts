/**
 * Retry-After (RFC 9110 §10.2.3) and how long to wait after a provider throttled a call. Pure: the
 * clock and the randomness are passed in.
 */

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
/** The three HTTP-date forms a recipient must accept: IMF-fixdate, and the obsolete RFC 850 and asctime forms. */
const imfFixdate = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`);
const rfc850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`);
const asctime = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`);
/** delta-seconds; decimals too, because Shopify sends `Retry-After: 2.0`. */
const deltaSeconds = /^\d{1,10}(?:\.\d{1,6})?$/;

/**
 * The wait a Retry-After header asks for, in ms (0 when its date has passed), or undefined when the
 * header is missing or not one of RFC 9110's forms (Date.parse alone would accept junk like "1.5.2020").
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (deltaSeconds.test(value)) return Math.round(Number(value) * 1000);
  let at: number;
  if (imfFixdate.test(value) || rfc850.test(value)) at = Date.parse(value);
  // asctime carries no zone but is GMT by definition; without one Date.parse would read local time.
  else if (asctime.test(value)) at = Date.parse(`${value} GMT`);
  else return undefined;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export interface ThrottlePolicy {
  /** When the provider said nothing. */
  defaultMs: number;
  /** No wait is longer than this (before jitter): a provider asking for an hour does not park a worker. */
  capMs: number;
  /** Up to this share of the delay is added at random, so throttled workers do not return in lockstep. */
  jitterRatio: number;
}

/**
 * How long to wait before calling a throttled provider again: what it asked (or the default), capped,
 * plus jitter that only ever adds — waiting less than asked would just earn another 429.
 */
export function throttleDelayMs(retryAfterMs: number | undefined, policy: ThrottlePolicy, random: () => number): number {
  const asked = retryAfterMs === undefined || !Number.isFinite(retryAfterMs) ? policy.defaultMs : Math.max(0, retryAfterMs);
  const delay = Math.min(asked, Math.max(0, policy.capMs));
  const ratio = Math.max(0, policy.jitterRatio);
  const share = Math.min(1, Math.max(0, random()));
  // The min only absorbs floating-point rounding: the jitter never exceeds ratio × delay.
  return Math.min(delay + delay * ratio * share, delay * (1 + ratio));
}
