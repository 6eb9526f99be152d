import { z } from 'zod';
import { externalUserId, recentInstant, singleOrBatch, storableString } from './common.js';
import { EVENT_TYPE_PATTERN } from './events.js';

/**
 * Signals: numeric readings of one quantity (a heart rate, a temperature, a score) reported by
 * several sources, each with its own uncertainty, fused into one value with a confidence band.
 * These schemas are the single source of truth for the server, the OpenAPI document and the
 * tests; the arithmetic lives in src/domain/fusion.ts.
 */

export const MAX_SIGNALS_PER_REQUEST = 500;
export const SIGNAL_SOURCE_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
/**
 * Magnitude bounds that keep every sum and product of the fusion finite in double precision:
 * a value beyond 1e15 has no unit digit left, and the sigma and trust bounds keep a precision
 * (trust / sigma²) between about 1e-51 and 1e27 even after the largest age inflation allowed.
 */
export const MAX_SIGNAL_MAGNITUDE = 1e15;
export const MIN_SIGMA = 1e-9;
export const MAX_SIGMA = 1e12;
export const MIN_SOURCE_TRUST = 1e-3;
export const MAX_SOURCE_TRUST = 1e3;
/**
 * At most this many half-lives in the stale window: a reading that old already counts 2^-64
 * (about 5e-20) of a fresh one, so a longer window would only keep readings that weigh nothing
 * while their inflated variance heads for overflow.
 */
export const MAX_STALE_HALF_LIVES = 64;
const MAX_WINDOW_SECONDS = 30 * 24 * 60 * 60;

export const fusionMethods = ['inverse_variance', 'weighted_mean', 'median'] as const;
export type FusionMethod = (typeof fusionMethods)[number];

/** The key naming a signal: the same charset and length as an event type. */
export const signalKey = z.string().regex(EVENT_TYPE_PATTERN, { message: `must match ${EVENT_TYPE_PATTERN.source}` }).meta({ example: 'heart.rate' });
const signalSource = z
  .string()
  .regex(SIGNAL_SOURCE_PATTERN, { message: 'must be 1 to 64 letters, digits, ".", "_", ":" or "-"' })
  .meta({ description: 'The device or service that made the reading', example: 'watch:garmin' });
const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const signalValue = finite
  .refine((value) => Math.abs(value) <= MAX_SIGNAL_MAGNITUDE, { message: `must be at most ${MAX_SIGNAL_MAGNITUDE} in magnitude` })
  .meta({ example: 72 });
const sigma = finite
  .min(MIN_SIGMA)
  .max(MAX_SIGMA)
  .meta({ description: 'One standard deviation of the reading, in its unit', example: 2 });
const unit = storableString(32).meta({ example: 'bpm' });
const seconds = z.number().int().min(1).max(MAX_WINDOW_SECONDS);

export const fusionRuleSchema = z
  .object({
    method: z.enum(fusionMethods).default('inverse_variance'),
    /** A reading's variance doubles every this many seconds of age, so older readings count less. */
    halfLifeSeconds: seconds.default(300),
    /** Readings older than this are left out (reported as `stale`). */
    staleAfterSeconds: seconds.default(3600),
    /** Trust per source, a multiplier on its precision (1 / variance); a source not listed has trust 1. */
    sourceWeights: z
      .record(signalSource, z.number().min(MIN_SOURCE_TRUST).max(MAX_SOURCE_TRUST))
      .refine((weights) => Object.keys(weights).length <= 100, { message: 'at most 100 sources' })
      .default({}),
    /** The sigma of a reading sent without one. */
    defaultSigma: sigma.default(1),
    /** Robust z-score beyond which a reading is an outlier; 0 turns the screening off. */
    outlierMad: z
      .number()
      .min(0)
      .max(100)
      .refine((value) => value === 0 || value >= 1, { message: 'must be 0 (off) or at least 1: below 1 the screening could reject the middle readings' })
      .default(3.5),
    unit: unit.optional(),
  })
  .strict()
  .refine((rule) => rule.staleAfterSeconds <= MAX_STALE_HALF_LIVES * rule.halfLifeSeconds, {
    message: `must be at most ${MAX_STALE_HALF_LIVES} half-lives: older readings would weigh nothing`,
    path: ['staleAfterSeconds'],
  })
  .meta({
    id: 'FusionRule',
    example: { method: 'inverse_variance', halfLifeSeconds: 300, staleAfterSeconds: 3600, sourceWeights: { 'watch:garmin': 2 }, defaultSigma: 1, outlierMad: 3.5, unit: 'bpm' },
  });
export type FusionRule = z.infer<typeof fusionRuleSchema>;

export const DEFAULT_FUSION_RULE: FusionRule = fusionRuleSchema.parse({});

export const signalInputSchema = z
  .object({
    key: signalKey,
    source: signalSource,
    value: signalValue,
    sigma: sigma.optional(),
    unit: unit.optional(),
    /** When the reading was made, no more than 5 minutes ahead and 30 days back of the hub's clock as for events; the time it is received when absent. */
    observedAt: recentInstant().optional(),
    userId: externalUserId.optional(),
    idempotencyKey: storableString(128).optional().meta({ example: 'garmin-2026-11-22T08:30:00Z-user-42' }),
  })
  .strict()
  .meta({ id: 'SignalInput' });

const SIGNAL_INGEST_EXAMPLE: SignalInputBody = { key: 'heart.rate', source: 'watch:garmin', value: 72, sigma: 2, unit: 'bpm', userId: 'user-42', observedAt: '2026-11-22T08:30:00Z' };

/** The body of a signal ingest: one reading, or up to MAX_SIGNALS_PER_REQUEST of them under `signals`. */
const signalIngestRequest = singleOrBatch(signalInputSchema, 'signals', MAX_SIGNALS_PER_REQUEST, { batch: 'SignalBatch', request: 'SignalIngestRequest', example: SIGNAL_INGEST_EXAMPLE });
export const signalBatchSchema = signalIngestRequest.batch;
export const signalIngestRequestSchema = signalIngestRequest.request;

const instant = z.iso.datetime({ offset: true });

export const fusedInputSchema = z.object({
  source: z.string(),
  value: z.number(),
  /** The reading's own sigma (or the rule's default), before age inflation. */
  sigma: z.number(),
  observedAt: instant,
  ageSeconds: z.number().min(0),
  /** Unnormalised weight in the fusion; 0 for an excluded reading. */
  weight: z.number().min(0),
  /** Share of the fused value, in percent; those of the included readings add up to 100. */
  contributionPct: z.number().min(0).max(100),
  excluded: z.enum(['stale', 'outlier']).optional(),
});

const FUSED_EXAMPLE = {
  key: 'heart.rate',
  userId: 'user-42',
  value: 72.8,
  sigma: 1.789,
  ci95: [69.294, 76.306],
  unit: 'bpm',
  method: 'inverse_variance',
  computedAt: '2026-11-22T08:30:00.000Z',
  inputs: [
    { source: 'ring:oura', value: 76, sigma: 4, observedAt: '2026-11-22T08:30:00.000Z', ageSeconds: 0, weight: 0.0625, contributionPct: 20 },
    { source: 'strap:polar', value: 140, sigma: 2, observedAt: '2026-11-22T08:29:00.000Z', ageSeconds: 60, weight: 0, contributionPct: 0, excluded: 'outlier' },
    { source: 'watch:garmin', value: 72, sigma: 2, observedAt: '2026-11-22T08:30:00.000Z', ageSeconds: 0, weight: 0.25, contributionPct: 80 },
  ],
} as const;

export const fusedSignalSchema = z
  .object({
    key: z.string(),
    /** The user the signal belongs to; null (or absent) for a tenant-wide signal. */
    userId: z.string().nullable().optional(),
    value: z.number(),
    sigma: z.number().min(0),
    /** value ± 1.96 sigma. */
    ci95: z.tuple([z.number(), z.number()]),
    unit: z.string().optional(),
    method: z.enum(fusionMethods),
    computedAt: instant,
    /** Every reading considered, ordered by source then observedAt. */
    inputs: z.array(fusedInputSchema),
  })
  .meta({ id: 'FusedSignal', example: FUSED_EXAMPLE });

export const listSignalsQuerySchema = z
  .object({
    userId: externalUserId.optional(),
    key: z.string().regex(EVENT_TYPE_PATTERN).optional().meta({ description: 'Only this signal', example: 'heart.rate' }),
  })
  .strict();

export const signalListSchema = z.object({ signals: z.array(fusedSignalSchema) }).meta({ id: 'SignalList', example: { signals: [FUSED_EXAMPLE] } });

export const MAX_HISTORY_POINTS = 1_000;
export const MIN_HISTORY_STEP_SECONDS = 10;
export const MAX_HISTORY_STEP_SECONDS = 24 * 60 * 60;
export const DEFAULT_HISTORY_WINDOW_SECONDS = 24 * 60 * 60;

const historyPoints = (fromMs: number, toMs: number, step: number) => Math.floor((toMs - fromMs) / (step * 1000)) + 1;

export const signalHistoryQuerySchema = z
  .object({
    from: instant.optional().meta({ description: 'Start of the window; by default 24 hours or 1,000 steps before `to`, whichever is shorter' }),
    to: instant.optional().meta({ description: 'End of the window; by default now, or 1,000 steps after `from` if that is earlier' }),
    step: z.coerce
      .number()
      .int()
      .min(MIN_HISTORY_STEP_SECONDS)
      .max(MAX_HISTORY_STEP_SECONDS)
      .optional()
      .meta({ description: 'Seconds between points; by default the smallest that fits the window in 1,000 points' }),
    userId: externalUserId.optional(),
  })
  .strict()
  .superRefine((query, ctx) => {
    if (query.from === undefined || query.to === undefined) return;
    const fromMs = Date.parse(query.from);
    const toMs = Date.parse(query.to);
    if (fromMs >= toMs) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
      return;
    }
    const step = query.step ?? MAX_HISTORY_STEP_SECONDS;
    if (historyPoints(fromMs, toMs, step) > MAX_HISTORY_POINTS) {
      ctx.addIssue({ code: 'custom', path: ['step'], message: `the window would hold more than ${MAX_HISTORY_POINTS} points: widen step or narrow the window` });
    }
  });
export type SignalHistoryQuery = z.infer<typeof signalHistoryQuerySchema>;

/**
 * The window a history query asks for, defaults filled in: at most MAX_HISTORY_POINTS points,
 * `from` and `to` included, and `to` never after `now` unless asked for.
 */
export function resolveHistoryWindow(query: Pick<SignalHistoryQuery, 'from' | 'to' | 'step'>, now: Date): { from: Date; to: Date; step: number } {
  const fitStep = (spanMs: number) => Math.min(MAX_HISTORY_STEP_SECONDS, Math.max(MIN_HISTORY_STEP_SECONDS, Math.ceil(spanMs / 1000 / (MAX_HISTORY_POINTS - 1))));
  if (query.from !== undefined && query.to !== undefined) {
    const from = new Date(query.from);
    const to = new Date(query.to);
    return { from, to, step: query.step ?? fitStep(to.getTime() - from.getTime()) };
  }
  if (query.from !== undefined) {
    const from = new Date(query.from);
    const step = query.step ?? fitStep(Math.max(0, now.getTime() - from.getTime()));
    const toMs = Math.min(now.getTime(), from.getTime() + (MAX_HISTORY_POINTS - 1) * step * 1000);
    return { from, to: new Date(Math.max(from.getTime(), toMs)), step };
  }
  const to = query.to === undefined ? now : new Date(query.to);
  const step = query.step ?? fitStep(DEFAULT_HISTORY_WINDOW_SECONDS * 1000);
  const spanMs = Math.min(DEFAULT_HISTORY_WINDOW_SECONDS, (MAX_HISTORY_POINTS - 1) * step) * 1000;
  return { from: new Date(to.getTime() - spanMs), to, step };
}

export const signalHistorySchema = z
  .object({
    key: z.string(),
    /** One point per step that had a usable reading; steps without one are left out. */
    points: z.array(z.object({ at: instant, value: z.number(), lo: z.number(), hi: z.number() })),
    from: instant,
    to: instant,
    step: z.int().min(1),
  })
  .meta({
    id: 'SignalHistory',
    example: {
      key: 'heart.rate',
      points: [
        { at: '2026-11-22T08:25:00.000Z', value: 71.5, lo: 68.2, hi: 74.8 },
        { at: '2026-11-22T08:30:00.000Z', value: 72.8, lo: 69.3, hi: 76.3 },
      ],
      from: '2026-11-22T08:25:00.000Z',
      to: '2026-11-22T08:30:00.000Z',
      step: 300,
    },
  });

export type SignalInputBody = z.infer<typeof signalInputSchema>;
export type FusedSignal = z.infer<typeof fusedSignalSchema>;
export type FusedSignalInput = z.infer<typeof fusedInputSchema>;
export type SignalList = z.infer<typeof signalListSchema>;
export type SignalHistory = z.infer<typeof signalHistorySchema>;
