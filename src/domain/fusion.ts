import type { FusionMethod, FusionRule } from '../contracts/api/signals.js';

/**
 * Signal fusion: several sources report the same quantity, each with its own uncertainty and
 * age; `fuse` turns them into one value with a standard deviation and a 95 % band, and says how
 * much each reading counted (or why it did not).
 *
 * Choices, and why:
 * - One reading per source is the caller's business. The function treats every reading it is
 *   given as an independent measurement, so the caller passes the latest reading of each source
 *   (what the store keeps per key, source and user). Passing a source's older readings as well
 *   would count that source several times, though age already makes the older ones count less.
 * - Age inflates variance: a reading's variance doubles every `halfLifeSeconds`
 *   (σ² · 2^(age/halfLife)), so a reading loses half its precision per half-life and a stale
 *   window keeps readings that fade smoothly instead of dropping off a cliff. A reading from the
 *   future (a source clock ahead of ours) counts as age 0: being early earns no bonus.
 * - Trust (the rule's `sourceWeights`, 1 when a source is not listed) multiplies a reading's
 *   precision: trust 2 means "this source's errors are √2 smaller than it says". So the
 *   effective variance of a reading is v = σ² · 2^(age/halfLife) / trust, the same in every
 *   method, and at age 0 with trust 1 it is the reading's own σ².
 * - Stale readings (older than `staleAfterSeconds`) are left out first, so they take no part in
 *   the outlier screening either: adding one never changes anything else.
 * - Outliers are screened among the fresh readings (3 or more; with 2 there is no majority to
 *   say which one is wrong) with a robust z-score |x − median| / scale, where scale is
 *   1.4826 · MAD (the MAD of normal data times 1.4826 estimates σ), but never less than the
 *   median of the readings' own sigmas. The floor answers MAD = 0 (half the sources report the
 *   very same value): a spread smaller than the sources' own noise says nothing, so a reading
 *   within a few sigmas of the others is kept, while one far off is still excluded. The median
 *   and the floor are unweighted, so a single trusted source cannot shield itself. With a
 *   threshold of at least 1 (what the schema allows) the middle readings are never excluded;
 *   should a screening ever exclude every reading, it excludes none instead.
 * - Sums run over the readings in a fixed order (source, then observedAt, then value, then
 *   sigma), and the value is computed as an offset from the first included reading, so the
 *   result does not depend on the order of the input and one reading gives back exactly its
 *   own value.
 *
 * Methods, over the included readings with effective variances vᵢ:
 * - inverse_variance (the best linear unbiased estimate for independent errors): weight
 *   wᵢ = 1/vᵢ, value = Σwᵢxᵢ / Σwᵢ, sigma = √(1/Σwᵢ). Adding any reading can only add
 *   precision, so a reading that agrees with the fused value never widens the band.
 * - weighted_mean (trust and freshness, but not the sources' stated sigmas, decide the mix):
 *   wᵢ = trustᵢ · 2^(−ageᵢ/halfLife), value = Σwᵢxᵢ / Σwᵢ, and sigma is the standard deviation
 *   of that weighted mean, √(Σwᵢ²vᵢ) / Σwᵢ. A noisy source at full weight can widen the band.
 * - median (robust to a minority of wrong readings the screening missed): the weighted median
 *   with the inverse-variance weights (the midpoint of the two middle values on an exact tie,
 *   so equal weights give the plain median), and sigma = √(π/2) · √(1/Σwᵢ) ≈ 1.2533 × the
 *   inverse-variance sigma: for normal errors the median's standard error is √(π/2) times the
 *   mean's. With 1 or 2 readings a median has no robustness to offer and the inverse-variance
 *   estimate is returned (value and sigma), still labelled `median`.
 * `weight` is wᵢ as above (unnormalised, 0 when excluded) and `contributionPct` is 100·wᵢ/Σw:
 * for the median that is a reading's share of the weight that chose the median.
 */

export interface SignalReading {
  source: string;
  value: number;
  /** One standard deviation; the rule's `defaultSigma` when absent. */
  sigma?: number | null | undefined;
  observedAt: Date;
}

export type FusionExclusion = 'stale' | 'outlier';

export interface FusedInput {
  source: string;
  value: number;
  /** The sigma used: the reading's own or the rule's default, before age and trust. */
  sigma: number;
  observedAt: Date;
  ageSeconds: number;
  weight: number;
  contributionPct: number;
  excluded?: FusionExclusion;
}

export interface FusedValue {
  value: number;
  sigma: number;
  /** value ± 1.96 sigma. */
  ci95: [number, number];
  method: FusionMethod;
  computedAt: Date;
  /** Every reading given, ordered by source then observedAt (then value, then sigma). */
  inputs: FusedInput[];
}

/** Two-sided 95 % quantile of the normal distribution. */
export const Z_95 = 1.96;
/** σ ≈ 1.4826 · MAD for normal data. */
export const MAD_TO_SIGMA = 1.4826;
/** Standard error of the median over that of the mean, for normal data: √(π/2) ≈ 1.2533. */
export const MEDIAN_SE_FACTOR = Math.sqrt(Math.PI / 2);
/** Relative slack under which the cumulative weight counts as exactly half (a tie between the two middle values). */
const HALF_WEIGHT_TOLERANCE = 1e-12;

interface Candidate {
  reading: SignalReading;
  sigma: number;
  ageSeconds: number;
  /** 2^(−age/halfLife). */
  decay: number;
  trust: number;
  /** Effective variance: σ² · 2^(age/halfLife) / trust. */
  variance: number;
  excluded?: FusionExclusion;
}

/** Code-unit order, independent of the locale. */
const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const byStableKey = (a: Candidate, b: Candidate) =>
  compareStrings(a.reading.source, b.reading.source) ||
  a.reading.observedAt.getTime() - b.reading.observedAt.getTime() ||
  a.reading.value - b.reading.value ||
  a.sigma - b.sigma;

/** The plain median of a non-empty list. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Marks fresh readings whose robust z-score exceeds the threshold (see the header for why the scale has a floor). */
function screenOutliers(fresh: Candidate[], threshold: number): void {
  if (threshold <= 0 || fresh.length < 3) return;
  const values = fresh.map((candidate) => candidate.reading.value);
  const center = median(values);
  const mad = median(values.map((value) => Math.abs(value - center)));
  const scale = Math.max(MAD_TO_SIGMA * mad, median(fresh.map((candidate) => candidate.sigma)));
  const outliers = fresh.filter((candidate) => Math.abs(candidate.reading.value - center) / scale > threshold);
  if (outliers.length === fresh.length) return;
  for (const candidate of outliers) candidate.excluded = 'outlier';
}

/** Σwᵢxᵢ/Σwᵢ as an offset from the first value: exact for one reading or equal values, kept within the values' range. */
function weightedMean(included: readonly Candidate[], weights: readonly number[], total: number): number {
  const reference = included[0]!.reading.value;
  let offset = 0;
  let lowest = reference;
  let highest = reference;
  included.forEach((candidate, i) => {
    const { value } = candidate.reading;
    offset += weights[i]! * (value - reference);
    lowest = Math.min(lowest, value);
    highest = Math.max(highest, value);
  });
  return Math.min(highest, Math.max(lowest, reference + offset / total));
}

/** The weighted median: the first value at which the cumulative weight reaches half, or the midpoint of two on a tie. */
function weightedMedian(included: readonly Candidate[], weights: readonly number[], total: number): number {
  const order = included.map((candidate, i) => ({ value: candidate.reading.value, weight: weights[i]! })).sort((a, b) => a.value - b.value);
  const half = total / 2;
  let cumulative = 0;
  for (let k = 0; k < order.length; k += 1) {
    cumulative += order[k]!.weight;
    if (cumulative >= half * (1 - HALF_WEIGHT_TOLERANCE)) {
      const next = order[k + 1];
      const tie = Math.abs(cumulative - half) <= HALF_WEIGHT_TOLERANCE * total;
      return tie && next ? (order[k]!.value + next.value) / 2 : order[k]!.value;
    }
  }
  return order.at(-1)!.value;
}

function combine(included: readonly Candidate[], method: FusionMethod): { value: number; sigma: number; weights: number[]; total: number } {
  const sum = (numbers: readonly number[]) => numbers.reduce((acc, n) => acc + n, 0);
  if (method === 'weighted_mean') {
    const weights = included.map((candidate) => candidate.trust * candidate.decay);
    const total = sum(weights);
    const spread = sum(included.map((candidate, i) => weights[i]! * weights[i]! * candidate.variance));
    return { value: weightedMean(included, weights, total), sigma: Math.sqrt(spread) / total, weights, total };
  }
  const weights = included.map((candidate) => 1 / candidate.variance);
  const total = sum(weights);
  const sigma = Math.sqrt(1 / total);
  if (method === 'median' && included.length >= 3) return { value: weightedMedian(included, weights, total), sigma: MEDIAN_SE_FACTOR * sigma, weights, total };
  return { value: weightedMean(included, weights, total), sigma, weights, total };
}

/**
 * The fused value of `readings` under `rule` as of `now`, or null when no reading is usable
 * (none given, or all stale). Pure: the same arguments always give the same result, whatever
 * their order. Readings are expected within the bounds of the signal schemas (finite values,
 * sigmas in [MIN_SIGMA, MAX_SIGMA]); the rule as parsed by `fusionRuleSchema`.
 */
export function fuse(readings: readonly SignalReading[], rule: FusionRule, now: Date): FusedValue | null {
  const candidates: Candidate[] = readings
    .map((reading) => {
      const sigma = reading.sigma ?? rule.defaultSigma;
      const ageSeconds = Math.max(0, (now.getTime() - reading.observedAt.getTime()) / 1000);
      // An own property only: a source named "constructor" must not find Object's.
      const trust = Object.hasOwn(rule.sourceWeights, reading.source) ? rule.sourceWeights[reading.source]! : 1;
      const growth = 2 ** (ageSeconds / rule.halfLifeSeconds);
      return { reading, sigma, ageSeconds, decay: 1 / growth, trust, variance: (sigma * sigma * growth) / trust };
    })
    .sort(byStableKey);

  for (const candidate of candidates) if (candidate.ageSeconds > rule.staleAfterSeconds) candidate.excluded = 'stale';
  const fresh = candidates.filter((candidate) => candidate.excluded === undefined);
  if (fresh.length === 0) return null;
  screenOutliers(fresh, rule.outlierMad);
  const included = fresh.filter((candidate) => candidate.excluded === undefined);

  const { value, sigma, weights, total } = combine(included, rule.method);
  const weightOf = new Map(included.map((candidate, i) => [candidate, weights[i]!]));
  const inputs = candidates.map((candidate): FusedInput => {
    const weight = weightOf.get(candidate) ?? 0;
    const input: FusedInput = {
      source: candidate.reading.source,
      value: candidate.reading.value,
      sigma: candidate.sigma,
      observedAt: candidate.reading.observedAt,
      ageSeconds: candidate.ageSeconds,
      weight,
      contributionPct: 100 * (weight / total),
    };
    if (candidate.excluded) input.excluded = candidate.excluded;
    return input;
  });
  return { value, sigma, ci95: [value - Z_95 * sigma, value + Z_95 * sigma], method: rule.method, computedAt: now, inputs };
}
