import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter, throttleDelayMs } from '../../src/domain/retry-after.js';

const now = Date.parse('2026-12-02T16:30:00.000Z');
// Failures report the counterexample only, not every shrink step.
const quiet = { numRuns: 300, verbose: 0 } as const;

describe('parseRetryAfter', () => {
  it('reads delta-seconds, decimals included (Shopify sends "2.0")', () => {
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('2.0', now)).toBe(2000);
    expect(parseRetryAfter(' 0.25 ', now)).toBe(250);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads the three HTTP-date forms as the time left, and a date gone by as 0', () => {
    expect(parseRetryAfter('Wed, 02 Dec 2026 16:30:02 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Wednesday, 02-Dec-26 16:30:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed Dec  2 16:30:03 2026', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 02 Dec 2026 16:29:00 GMT', now)).toBe(0);
  });

  it('answers undefined for a missing header or junk', () => {
    for (const junk of [undefined, null, '', '  ', 'soon', '-1', '1e3', '2s', '1.5.2020', 'Wed, 02 Dec 2026 16:30:02', '2026-12-02T16:30:02Z', 'Wed, 32 Foo 2026 16:30:02 GMT']) {
      expect(parseRetryAfter(junk, now), String(junk)).toBeUndefined();
    }
  });

  it('round-trips any whole-second delay in both forms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400 }), (seconds) => {
        expect(parseRetryAfter(String(seconds), now)).toBe(seconds * 1000);
        expect(parseRetryAfter(new Date(now + seconds * 1000).toUTCString(), now)).toBe(seconds * 1000);
      }),
      quiet,
    );
  });

  it('never throws and never answers a negative or non-finite wait, whatever the header', () => {
    fc.assert(
      fc.property(fc.string(), (header) => {
        const ms = parseRetryAfter(header, now);
        expect(ms === undefined || (Number.isFinite(ms) && ms >= 0)).toBe(true);
      }),
      quiet,
    );
  });
});

describe('throttleDelayMs', () => {
  const policy = { defaultMs: 1000, capMs: 60_000, jitterRatio: 0.2 };

  it('uses the default when the provider said nothing, and caps long waits', () => {
    expect(throttleDelayMs(undefined, policy, () => 0)).toBe(1000);
    expect(throttleDelayMs(3_600_000, policy, () => 0)).toBe(60_000);
    expect(throttleDelayMs(2000, policy, () => 0.5)).toBe(2200);
  });

  const policies = fc.record({
    defaultMs: fc.integer({ min: 0, max: 120_000 }),
    capMs: fc.integer({ min: 0, max: 600_000 }),
    jitterRatio: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  const asked = fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined });
  const randoms = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

  it('never waits less than asked while under the cap, and never more than cap × (1 + jitter)', () => {
    fc.assert(
      fc.property(asked, policies, randoms, (retryAfterMs, p, r) => {
        const delay = throttleDelayMs(retryAfterMs, p, () => r);
        const wanted = retryAfterMs ?? p.defaultMs;
        expect(delay).toBeGreaterThanOrEqual(Math.min(wanted, p.capMs));
        expect(delay).toBeLessThanOrEqual(p.capMs * (1 + p.jitterRatio));
        expect(delay).toBeLessThanOrEqual(wanted * (1 + p.jitterRatio));
      }),
      quiet,
    );
  });
});
