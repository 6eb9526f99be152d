import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FUSION_RULE, fusedSignalSchema, fusionMethods, fusionRuleSchema, resolveHistoryWindow, signalHistoryQuerySchema, signalIngestRequestSchema, type FusionRule } from '../../src/contracts/api/signals.js';
import { fuse, MEDIAN_SE_FACTOR, type FusedInput, type FusedValue, type SignalReading } from '../../src/domain/fusion.js';

const NOW = new Date('2026-11-22T08:30:00.000Z');
const SOURCES = ['a', 'b', 'c', 'watch:garmin', 'constructor'] as const;

const rule = (overrides: Partial<FusionRule> = {}): FusionRule => fusionRuleSchema.parse({ ...overrides });
const at = (ageSeconds: number) => new Date(NOW.getTime() - ageSeconds * 1000);
const reading = (source: string, value: number, sigma: number | undefined, ageSeconds = 0): SignalReading => ({ source, value, sigma, observedAt: at(ageSeconds) });
const fused = (readings: SignalReading[], fusionRule: FusionRule): FusedValue => {
  const result = fuse(readings, fusionRule, NOW);
  expect(result).not.toBeNull();
  return result!;
};
const byIncluded = (inputs: FusedInput[]) => inputs.filter((input) => input.excluded === undefined);

describe('fusion: worked examples', () => {
  it('inverse variance at age 0: precision-weighted mean, sigma √(1/Σ 1/σ²)', () => {
    // a: 10 ± 1 → precision 1; b: 12 ± 2 → precision 1/4. Σ = 1.25.
    // value = (1·10 + 0.25·12) / 1.25 = 13 / 1.25 = 10.4; sigma = √(1/1.25) = √0.8 = 0.894427191
    // ci95 = 10.4 ± 1.96·0.894427191 = 10.4 ± 1.753077294; shares 1/1.25 = 80 %, 0.25/1.25 = 20 %.
    const result = fused([reading('b', 12, 2), reading('a', 10, 1)], DEFAULT_FUSION_RULE);
    expect(result.value).toBeCloseTo(10.4, 12);
    expect(result.sigma).toBeCloseTo(0.894427191, 9);
    expect(result.ci95[0]).toBeCloseTo(8.646922706, 9);
    expect(result.ci95[1]).toBeCloseTo(12.153077294, 9);
    expect(result.inputs.map((input) => [input.source, input.weight, input.contributionPct])).toEqual([
      ['a', 1, expect.closeTo(80, 12)],
      ['b', 0.25, expect.closeTo(20, 12)],
    ]);
    expect(result.method).toBe('inverse_variance');
    expect(result.computedAt).toEqual(NOW);
  });

  it('age inflates variance (doubling per half-life) and trust multiplies precision', () => {
    // halfLife 300 s. a: 20 ± 1, 300 s old, trust 1 → variance 1·2^(300/300) = 2 → precision 0.5.
    // b: 26 ± 2, fresh, trust 4 → variance 4 / 4 = 1 → precision 1. Σ = 1.5.
    // value = (0.5·20 + 1·26) / 1.5 = 36 / 1.5 = 24; sigma = √(1/1.5) = 0.816496581; shares 33.3 % / 66.7 %.
    const result = fused([reading('a', 20, 1, 300), reading('b', 26, 2)], rule({ halfLifeSeconds: 300, sourceWeights: { b: 4 } }));
    expect(result.value).toBeCloseTo(24, 12);
    expect(result.sigma).toBeCloseTo(0.816496581, 9);
    expect(result.inputs).toEqual([
      { source: 'a', value: 20, sigma: 1, observedAt: at(300), ageSeconds: 300, weight: 0.5, contributionPct: expect.closeTo(100 / 3, 12) },
      { source: 'b', value: 26, sigma: 2, observedAt: at(0), ageSeconds: 0, weight: 1, contributionPct: expect.closeTo(200 / 3, 12) },
    ]);
  });

  it('excludes readings older than staleAfterSeconds, keeps one exactly that old, and is null when nothing is fresh', () => {
    // staleAfter 3600, halfLife 300: a at exactly 3600 s has variance 1·2^12 = 4096 → precision 1/4096.
    // b (fresh, 10 ± 1) has precision 1: value = (10 + 50/4096) / (1 + 1/4096) = (40960 + 50) / 4097 = 10.009763241
    const fusionRule = rule({ halfLifeSeconds: 300, staleAfterSeconds: 3600 });
    const result = fused([reading('a', 50, 1, 3600), reading('b', 10, 1), reading('c', 1000, 1, 3601)], fusionRule);
    expect(result.value).toBeCloseTo(41010 / 4097, 12);
    expect(result.inputs.map((input) => [input.source, input.excluded, input.weight])).toEqual([
      ['a', undefined, 1 / 4096],
      ['b', undefined, 1],
      ['c', 'stale', 0],
    ]);
    expect(fuse([reading('c', 1000, 1, 3601)], fusionRule, NOW)).toBeNull();
    expect(fuse([], fusionRule, NOW)).toBeNull();
  });

  it('treats a reading from the future as fresh, not as extra-precise', () => {
    const result = fused([{ source: 'a', value: 5, sigma: 2, observedAt: new Date(NOW.getTime() + 60_000) }], DEFAULT_FUSION_RULE);
    expect(result.inputs[0]).toMatchObject({ ageSeconds: 0, weight: 0.25 });
    expect(result.sigma).toBeCloseTo(2, 12);
  });

  it('excludes an outlier by robust z-score, with the readings’ own noise as the floor of the scale', () => {
    // 70, 71, 72, 140 (all ± 2): median (71 + 72)/2 = 71.5; deviations 1.5, 0.5, 0.5, 68.5 → MAD = (0.5 + 1.5)/2 = 1;
    // scale = max(1.4826·1, median sigma 2) = 2; z(140) = 68.5/2 = 34.25 > 3.5 → outlier; z(70) = 0.75 stays.
    // The rest: equal sigmas → mean 71, sigma = 2/√3 = 1.154700538.
    const result = fused([reading('a', 70, 2), reading('b', 71, 2), reading('c', 72, 2), reading('d', 140, 2)], DEFAULT_FUSION_RULE);
    expect(result.value).toBeCloseTo(71, 12);
    expect(result.sigma).toBeCloseTo(1.154700538, 9);
    expect(result.inputs.find((input) => input.source === 'd')).toMatchObject({ excluded: 'outlier', weight: 0, contributionPct: 0 });
    // With the screening off, 140 counts like the others: mean (70 + 71 + 72 + 140)/4 = 88.25.
    expect(fused([reading('a', 70, 2), reading('b', 71, 2), reading('c', 72, 2), reading('d', 140, 2)], rule({ outlierMad: 0 })).value).toBeCloseTo(88.25, 12);
  });

  it('with MAD = 0 keeps a reading within the sources’ noise and excludes one far beyond it', () => {
    // 20, 20, 20, 20.5 (± 0.5): median 20, MAD 0 → scale = median sigma 0.5; z(20.5) = 1 → kept.
    // Equal sigmas: mean 80.5/4 = 20.125, sigma 0.5/√4 = 0.25.
    const close = fused([reading('a', 20, 0.5), reading('b', 20, 0.5), reading('c', 20, 0.5), reading('d', 20.5, 0.5)], DEFAULT_FUSION_RULE);
    expect(close.inputs.every((input) => input.excluded === undefined)).toBe(true);
    expect(close.value).toBeCloseTo(20.125, 12);
    expect(close.sigma).toBeCloseTo(0.25, 12);
    // 25 instead: z = 5/0.5 = 10 → outlier; the three 20s remain: 20 ± 0.5/√3 = 0.288675135.
    const far = fused([reading('a', 20, 0.5), reading('b', 20, 0.5), reading('c', 20, 0.5), reading('d', 25, 0.5)], DEFAULT_FUSION_RULE);
    expect(far.inputs.map((input) => input.excluded)).toEqual([undefined, undefined, undefined, 'outlier']);
    expect(far.value).toBe(20);
    expect(far.sigma).toBeCloseTo(0.288675135, 9);
  });

  it('does not screen two readings: there is no majority to say which is wrong', () => {
    const result = fused([reading('a', 0, 1), reading('b', 1000, 1)], DEFAULT_FUSION_RULE);
    expect(result.inputs.every((input) => input.excluded === undefined)).toBe(true);
    expect(result.value).toBeCloseTo(500, 12);
  });

  it('weighted mean: trust × freshness decide the mix, sigma is that of the weighted mean', () => {
    // halfLife 300. a: 10 ± 1 fresh → w = 1, v = 1. b: 16 ± 2, 300 s old → w = 2^-1 = 0.5, v = 4·2 = 8.
    // value = (1·10 + 0.5·16) / 1.5 = 18 / 1.5 = 12; sigma = √(1²·1 + 0.5²·8) / 1.5 = √3 / 1.5 = 1.154700538.
    // (Inverse variance would give (10 + 16/8) / (1 + 1/8) = 12 / 1.125 = 10.666666667.)
    const readings = [reading('a', 10, 1), reading('b', 16, 2, 300)];
    const result = fused(readings, rule({ method: 'weighted_mean', halfLifeSeconds: 300 }));
    expect(result.value).toBeCloseTo(12, 12);
    expect(result.sigma).toBeCloseTo(1.154700538, 9);
    expect(result.inputs.map((input) => input.weight)).toEqual([1, 0.5]);
    expect(fused(readings, rule({ halfLifeSeconds: 300 })).value).toBeCloseTo(10.666666667, 9);
  });

  it('weighted mean: a reading that agrees but is noisy can widen the band (why that property is only claimed for inverse variance)', () => {
    // a: 10 ± 1 alone → sigma 1. Add b: 10 ± 100, same weight 1: sigma = √(1 + 10000) / 2 = 50.002.
    const fusionRule = rule({ method: 'weighted_mean' });
    expect(fused([reading('a', 10, 1)], fusionRule).sigma).toBeCloseTo(1, 12);
    expect(fused([reading('a', 10, 1), reading('b', 10, 100)], fusionRule).sigma).toBeCloseTo(Math.sqrt(10001) / 2, 9);
  });

  it('median: weighted median with inverse-variance weights, sigma √(π/2) × the inverse-variance sigma', () => {
    const fusionRule = rule({ method: 'median', outlierMad: 0 });
    // 1, 2, 3, 4, 100 (± 1): median 3; sigma = 1.2533141 · √(1/5) = 0.560499122.
    const plain = fused([1, 2, 3, 4, 100].map((value, i) => reading(SOURCES[i]!, value, 1)), fusionRule);
    expect(plain.value).toBe(3);
    expect(MEDIAN_SE_FACTOR).toBeCloseTo(1.2533141, 7);
    expect(plain.sigma).toBeCloseTo(0.560499122, 9);
    // 1 (± 1, w 1), 2 (± 1, w 1), 3 (± 0.5, w 4): Σw = 6, half 3; cumulative 1, 2, 6 → 3. sigma = 1.2533141·√(1/6) = 0.511663354.
    const weighted = fused([reading('a', 1, 1), reading('b', 2, 1), reading('c', 3, 0.5)], fusionRule);
    expect(weighted.value).toBe(3);
    expect(weighted.sigma).toBeCloseTo(0.511663354, 9);
    expect(weighted.inputs.map((input) => input.contributionPct)).toEqual([expect.closeTo(100 / 6, 12), expect.closeTo(100 / 6, 12), expect.closeTo(400 / 6, 12)]);
    // 1, 2, 3, 4 with equal weights: cumulative weight reaches exactly half at 2 → midpoint 2.5.
    expect(fused([1, 2, 3, 4].map((value, i) => reading(SOURCES[i]!, value, 1)), fusionRule).value).toBe(2.5);
    // Two readings: the inverse-variance estimate. 10 ± 1 and 12 ± 2 → 10.4 ± 0.894427191, as above.
    const two = fused([reading('a', 10, 1), reading('b', 12, 2)], fusionRule);
    expect(two.value).toBeCloseTo(10.4, 12);
    expect(two.sigma).toBeCloseTo(0.894427191, 9);
  });

  it('uses the default sigma for a reading without one, and trusts only listed sources (not Object.prototype)', () => {
    // defaultSigma 2 → precision 1/4; trust of "constructor" is 1 although ({}).constructor exists.
    const result = fused([reading('constructor', 5, undefined)], rule({ defaultSigma: 2 }));
    expect(result.inputs[0]).toMatchObject({ sigma: 2, weight: 0.25, contributionPct: 100 });
    expect(result.sigma).toBeCloseTo(2, 12);
  });

  it('orders inputs by source, then observedAt', () => {
    const result = fused([reading('b', 1, 1, 10), reading('a', 2, 1, 5), reading('b', 3, 1, 20), reading('a', 4, 1, 50)], rule({ outlierMad: 0 }));
    expect(result.inputs.map((input) => [input.source, input.ageSeconds])).toEqual([
      ['a', 50],
      ['a', 5],
      ['b', 20],
      ['b', 10],
    ]);
  });
});

describe('fusion: contracts', () => {
  it('parses the defaults and refuses rules that cannot work', () => {
    expect(DEFAULT_FUSION_RULE).toEqual({ method: 'inverse_variance', halfLifeSeconds: 300, staleAfterSeconds: 3600, sourceWeights: {}, defaultSigma: 1, outlierMad: 3.5 });
    expect(fusionRuleSchema.safeParse({ outlierMad: 0.5 }).success).toBe(false);
    expect(fusionRuleSchema.safeParse({ halfLifeSeconds: 10, staleAfterSeconds: 3600 }).success).toBe(false);
    expect(fusionRuleSchema.safeParse({ sourceWeights: { 'bad source': 2 } }).success).toBe(false);
    expect(fusionRuleSchema.safeParse({ sourceWeights: { 'watch:garmin': 0 } }).success).toBe(false);
  });

  it('accepts one reading or a batch of 1 to 500, with the event type charset for keys', () => {
    const one = { key: 'heart.rate', source: 'watch:garmin', value: 72, sigma: 2, userId: 'user-42', observedAt: new Date().toISOString() };
    expect(signalIngestRequestSchema.safeParse(one).success).toBe(true);
    expect(signalIngestRequestSchema.safeParse({ signals: [one] }).success).toBe(true);
    expect(signalIngestRequestSchema.safeParse({ signals: [] }).success).toBe(false);
    expect(signalIngestRequestSchema.safeParse({ signals: Array.from({ length: 501 }, () => one) }).success).toBe(false);
    expect(signalIngestRequestSchema.safeParse({ ...one, key: 'Heart Rate' }).success).toBe(false);
    expect(signalIngestRequestSchema.safeParse({ ...one, value: Number.POSITIVE_INFINITY }).success).toBe(false);
    expect(signalIngestRequestSchema.safeParse({ ...one, sigma: 0 }).success).toBe(false);
    expect(signalIngestRequestSchema.safeParse({ ...one, source: 'x'.repeat(65) }).success).toBe(false);
  });

  it('serialises a fused value into the FusedSignal schema, its example included', () => {
    const result = fused([reading('a', 10, 1), reading('b', 12, 2)], DEFAULT_FUSION_RULE);
    const wire = {
      key: 'heart.rate',
      userId: null,
      ...result,
      computedAt: result.computedAt.toISOString(),
      inputs: result.inputs.map((input) => ({ ...input, observedAt: input.observedAt.toISOString() })),
    };
    expect(fusedSignalSchema.safeParse(wire).success).toBe(true);
    expect(fusedSignalSchema.safeParse(fusedSignalSchema.meta()?.example).success).toBe(true);
  });

  it('bounds a history query to 1,000 points and fills in defaults within that bound', () => {
    expect(signalHistoryQuerySchema.safeParse({ from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', step: '60' }).success).toBe(false);
    expect(signalHistoryQuerySchema.safeParse({ from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', step: '300' }).success).toBe(true);
    expect(signalHistoryQuerySchema.safeParse({ from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }).success).toBe(false);
    // 24 h in at most 1,000 points: step ⌈86400 / 999⌉ = 87 s.
    expect(resolveHistoryWindow({}, NOW)).toEqual({ from: new Date(NOW.getTime() - 86_400_000), to: NOW, step: 87 });
    // step 10 s: 24 h would be 8,641 points, so the window shrinks to 999 steps.
    expect(resolveHistoryWindow({ step: 10 }, NOW)).toEqual({ from: new Date(NOW.getTime() - 9_990_000), to: NOW, step: 10 });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const finiteValue = fc
  .oneof(fc.integer({ min: -100, max: 100 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }))
  // −0 and 0 are one value on the wire; keep the generator to one of them.
  .map((value) => value + 0);
const positiveSigma = fc.double({ min: 1e-3, max: 1e3, noNaN: true });
const trust = fc.double({ min: 0.01, max: 100, noNaN: true });

const ruleArb = fc
  .record({
    method: fc.constantFrom(...fusionMethods),
    halfLifeSeconds: fc.integer({ min: 1, max: 3600 }),
    halfLives: fc.integer({ min: 1, max: 64 }),
    sourceWeights: fc.dictionary(fc.constantFrom(...SOURCES), trust),
    defaultSigma: positiveSigma,
    outlierMad: fc.constantFrom(0, 1, 2, 3.5, 10),
  })
  .map(({ halfLives, ...fields }) => fusionRuleSchema.parse({ ...fields, staleAfterSeconds: Math.min(fields.halfLifeSeconds * halfLives, 30 * 86_400) }));

/** A reading up to 5 minutes in the future and up to 1.5 stale windows old. */
const readingArb = (fusionRule: FusionRule, ages: { min: number; max: number } = { min: -300_000, max: Math.round(fusionRule.staleAfterSeconds * 1500) }) =>
  fc
    .record({ source: fc.constantFrom(...SOURCES), value: finiteValue, sigma: fc.option(positiveSigma, { nil: undefined }), ageMs: fc.integer(ages) })
    .map(({ ageMs, ...fields }): SignalReading => ({ ...fields, observedAt: new Date(NOW.getTime() - ageMs) }));
const freshAges = (fusionRule: FusionRule) => ({ min: -300_000, max: fusionRule.staleAfterSeconds * 1000 });

const scenario = (minLength = 1) => ruleArb.chain((fusionRule) => fc.record({ rule: fc.constant(fusionRule), readings: fc.array(readingArb(fusionRule), { minLength, maxLength: 12 }) }));

/** The inputs with the first one matching `added` (same fields, excluded as `why`) taken out. */
function without(inputs: FusedInput[], added: SignalReading, fusionRule: FusionRule, why: 'stale' | 'outlier'): FusedInput[] {
  const index = inputs.findIndex(
    (input) =>
      input.excluded === why &&
      input.source === added.source &&
      input.value === added.value &&
      input.sigma === (added.sigma ?? fusionRule.defaultSigma) &&
      input.observedAt.getTime() === added.observedAt.getTime(),
  );
  expect(index).toBeGreaterThanOrEqual(0);
  expect(inputs[index]).toMatchObject({ weight: 0, contributionPct: 0 });
  return inputs.filter((_, i) => i !== index);
}

const keyOf = (input: { source: string; value: number; sigma?: number | null | undefined; observedAt: Date }) => `${input.source}|${input.value}|${input.sigma}|${input.observedAt.getTime()}`;
/** The readings excluded as outliers, as sorted keys. */
const outlierKeys = (inputs: FusedInput[]) => inputs.filter((input) => input.excluded === 'outlier').map(keyOf).sort();

interface AgreeingRun {
  before: FusedValue;
  after: FusedValue;
  added: SignalReading;
}

/**
 * Fuses `readings`, then again with one more reading that agrees with the fused value (it has
 * that value), made `ageMs` before NOW; null when the first fusion has nothing left to fuse.
 */
const fuseWithAgreeing = (readings: SignalReading[], fusionRule: FusionRule, agreeing: { source: string; sigma: number; ageMs: number }): AgreeingRun | null => {
  const before = fuse(readings, fusionRule, NOW);
  if (before === null) return null;
  const added = { source: agreeing.source, value: before.value, sigma: agreeing.sigma, observedAt: new Date(NOW.getTime() - agreeing.ageMs) };
  return { before, after: fused([...readings, added], fusionRule), added };
};

/** The agreeing reading left the band no wider: sigma no larger, neither end of the 95 % interval further out (up to rounding). */
const expectBandNoWider = ({ before, after }: AgreeingRun) => {
  const tolerance = 1e-9 * (1 + Math.abs(before.value));
  expect(after.sigma).toBeLessThanOrEqual(before.sigma);
  expect(after.ci95[0]).toBeGreaterThanOrEqual(before.ci95[0] - tolerance);
  expect(after.ci95[1]).toBeLessThanOrEqual(before.ci95[1] + tolerance);
};

describe('fusion: properties', () => {
  it('does not depend on the order of the readings', () => {
    fc.assert(
      fc.property(
        scenario().chain(({ rule: fusionRule, readings }) => fc.record({ rule: fc.constant(fusionRule), readings: fc.constant(readings), shuffled: fc.shuffledSubarray(readings, { minLength: readings.length }) })),
        ({ rule: fusionRule, readings, shuffled }) => {
          expect(fuse(shuffled, fusionRule, NOW)).toEqual(fuse(readings, fusionRule, NOW));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives back one fresh reading: its own value, and its own sigma (over √trust) at age 0', () => {
    fc.assert(
      fc.property(ruleArb, fc.constantFrom(...SOURCES), finiteValue, fc.option(positiveSigma, { nil: undefined }), (fusionRule, source, value, sigma) => {
        const result = fused([reading(source, value, sigma)], fusionRule);
        const own = sigma ?? fusionRule.defaultSigma;
        const trusted = Object.hasOwn(fusionRule.sourceWeights, source) ? fusionRule.sourceWeights[source]! : 1;
        expect(result.value).toBe(value);
        const expected = own / Math.sqrt(trusted);
        expect(Math.abs(result.sigma - expected)).toBeLessThanOrEqual(expected * 1e-12);
        expect(result.inputs[0]!.contributionPct).toBe(100);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the mean (the plain median for the median method) when sigmas, ages and trust are equal', () => {
    fc.assert(
      fc.property(
        ruleArb,
        fc.array(finiteValue, { minLength: 1, maxLength: 12 }),
        positiveSigma,
        fc.integer({ min: 0, max: 3_600_000 }),
        (base, values, sigma, ageMs) => {
          const fusionRule = { ...base, outlierMad: 0, sourceWeights: {}, staleAfterSeconds: 30 * 86_400, halfLifeSeconds: Math.max(base.halfLifeSeconds, 60 * 60) };
          const readings = values.map((value, i) => ({ source: `s${i}`, value, sigma, observedAt: new Date(NOW.getTime() - ageMs) }));
          const result = fused(readings, fusionRule);
          const scale = 1 + Math.max(...values.map(Math.abs));
          const sorted = [...values].sort((a, b) => a - b);
          const middle = sorted.length >> 1;
          const expected =
            fusionRule.method === 'median' && values.length >= 3
              ? sorted.length % 2 === 1
                ? sorted[middle]!
                : (sorted[middle - 1]! + sorted[middle]!) / 2
              : values.reduce((sum, value) => sum + value, 0) / values.length;
          expect(Math.abs(result.value - expected)).toBeLessThanOrEqual(1e-9 * scale);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports contributions of the included readings adding up to 100 %, and 0 for the excluded', () => {
    fc.assert(
      fc.property(scenario(), ({ rule: fusionRule, readings }) => {
        const result = fuse(readings, fusionRule, NOW);
        if (result === null) {
          expect(readings.every((r) => (NOW.getTime() - r.observedAt.getTime()) / 1000 > fusionRule.staleAfterSeconds)).toBe(true);
          return;
        }
        const included = byIncluded(result.inputs);
        expect(included.length).toBeGreaterThan(0);
        expect(Math.abs(included.reduce((sum, input) => sum + input.contributionPct, 0) - 100)).toBeLessThanOrEqual(1e-9);
        for (const input of result.inputs.filter((i) => i.excluded !== undefined)) expect(input).toMatchObject({ weight: 0, contributionPct: 0 });
        expect(result.ci95[0]).toBeLessThanOrEqual(result.value);
        expect(result.ci95[1]).toBeGreaterThanOrEqual(result.value);
        expect(Number.isFinite(result.sigma) && result.sigma > 0).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('inverse variance: a reading that agrees with the fused value never widens the band', () => {
    fc.assert(
      fc.property(
        scenario().chain(({ rule: base, readings }) => {
          const fusionRule = { ...base, method: 'inverse_variance' as const };
          return fc.record({
            rule: fc.constant(fusionRule),
            readings: fc.constant(readings),
            source: fc.constantFrom(...SOURCES),
            sigma: fc.option(positiveSigma, { nil: undefined }),
            ageMs: fc.integer(freshAges(fusionRule)),
          });
        }),
        ({ rule: fusionRule, readings, source, sigma, ageMs }) => {
          const run = fuseWithAgreeing(readings, fusionRule, { source, sigma: sigma ?? fusionRule.defaultSigma, ageMs });
          if (run === null) return;
          // With screening on, a new reading may shift the median and MAD enough to exclude (or
          // readmit) another reading; the claim is for the readings the screening treats alike.
          const excludedAfter = outlierKeys(run.after.inputs);
          const own = excludedAfter.indexOf(keyOf(run.added));
          if (own >= 0) excludedAfter.splice(own, 1);
          if (JSON.stringify(excludedAfter) !== JSON.stringify(outlierKeys(run.before.inputs))) return;
          expectBandNoWider(run);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('inverse variance with screening off: an agreeing reading never widens the band, unconditionally', () => {
    fc.assert(
      fc.property(
        scenario().chain(({ rule: base, readings }) =>
          fc.record({ rule: fc.constant({ ...base, method: 'inverse_variance' as const, outlierMad: 0 }), readings: fc.constant(readings), sigma: positiveSigma, ageMs: fc.integer(freshAges(base)) }),
        ),
        ({ rule: fusionRule, readings, sigma, ageMs }) => {
          const run = fuseWithAgreeing(readings, fusionRule, { source: 'agree', sigma, ageMs });
          if (run !== null) expectBandNoWider(run);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('adding a stale reading changes nothing but that reading’s own entry', () => {
    fc.assert(
      fc.property(
        scenario().chain(({ rule: fusionRule, readings }) =>
          fc.record({
            rule: fc.constant(fusionRule),
            readings: fc.constant(readings),
            stale: readingArb(fusionRule, { min: fusionRule.staleAfterSeconds * 1000 + 1, max: fusionRule.staleAfterSeconds * 3000 }),
          }),
        ),
        ({ rule: fusionRule, readings, stale }) => {
          const before = fuse(readings, fusionRule, NOW);
          const after = fuse([...readings, stale], fusionRule, NOW);
          if (before === null) {
            expect(after).toBeNull();
            return;
          }
          expect(after).not.toBeNull();
          const { inputs, ...rest } = after!;
          const { inputs: inputsBefore, ...restBefore } = before;
          expect(rest).toEqual(restBefore);
          expect(without(inputs, stale, fusionRule, 'stale')).toEqual(inputsBefore);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('adding an outlier changes nothing but that reading’s own entry', () => {
    // Fresh readings c + δ with |δ| ≤ 0.45·σlo and every sigma ≥ σlo: any median lies within their
    // range (width ≤ 0.9·σlo) and the scale is at least the median sigma (≥ σlo), so each has z ≤ 0.9
    // before and after, and none is excluded (thresholds ≥ 1). The outlier sits D away with
    // D = (threshold + 1) · max(1.4826·σlo, largest sigma) + σlo, beyond any scale the set can
    // have (MAD ≤ σlo with at most one large deviation), so its z > threshold.
    const outlierScenario = ruleArb
      .filter((fusionRule) => fusionRule.outlierMad > 0)
      .chain((fusionRule) =>
        fc.record({
          rule: fc.constant(fusionRule),
          center: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
          low: fc.double({ min: 1e-3, max: 10, noNaN: true }),
          fresh: fc.array(
            fc.record({ source: fc.constantFrom(...SOURCES), offset: fc.double({ min: -0.45, max: 0.45, noNaN: true }), sigmaFactor: fc.double({ min: 1, max: 100, noNaN: true }), ageMs: fc.integer(freshAges(fusionRule)) }),
            { minLength: 2, maxLength: 10 },
          ),
          stale: fc.array(readingArb(fusionRule, { min: fusionRule.staleAfterSeconds * 1000 + 1, max: fusionRule.staleAfterSeconds * 3000 }), { maxLength: 3 }),
          outlier: fc.record({ source: fc.constantFrom(...SOURCES), sign: fc.constantFrom(-1, 1), sigma: positiveSigma, extra: fc.double({ min: 0, max: 1e3, noNaN: true }), ageMs: fc.integer(freshAges(fusionRule)) }),
        }),
      );
    fc.assert(
      fc.property(outlierScenario, ({ rule: fusionRule, center, low, fresh, stale, outlier }) => {
        const readings: SignalReading[] = [
          ...fresh.map(({ source, offset, sigmaFactor, ageMs }) => ({ source, value: center + offset * low, sigma: low * sigmaFactor, observedAt: new Date(NOW.getTime() - ageMs) })),
          ...stale,
        ];
        const largest = Math.max(outlier.sigma, ...readings.slice(0, fresh.length).map((r) => r.sigma!));
        const distance = (fusionRule.outlierMad + 1) * Math.max(1.4826 * low, largest) * (1 + 1e-9) + low + outlier.extra;
        const added: SignalReading = { source: outlier.source, value: center + outlier.sign * distance, sigma: outlier.sigma, observedAt: new Date(NOW.getTime() - outlier.ageMs) };
        const before = fused(readings, fusionRule);
        expect(before.inputs.some((input) => input.excluded === 'outlier')).toBe(false);
        const { inputs, ...rest } = fused([...readings, added], fusionRule);
        const { inputs: inputsBefore, ...restBefore } = before;
        expect(rest).toEqual(restBefore);
        expect(without(inputs, added, fusionRule, 'outlier')).toEqual(inputsBefore);
      }),
      { numRuns: 500 },
    );
  });
});
