// @ts-check
/**
 * Pure helpers of the dashboard page: formatting, the per-tile repaint conflation, chart buffers and
 * token bookkeeping. No DOM here, so the unit tests run them in Node (types: format.d.ts).
 */

/** At most one repaint per tile per this many milliseconds. */
export const REPAINT_INTERVAL_MS = 1000;

/**
 * Conflates repaints per tile: `schedule(tile, paint)` paints at once when the tile has not been
 * painted within `intervalMs`, else once at the end of the interval, with the latest `paint` given
 * (earlier ones are dropped: latest wins).
 * @param {{ intervalMs?: number, now?: () => number, setTimer?: (run: () => void, ms: number) => unknown, clearTimer?: (timer: unknown) => void }} [options]
 */
export function createConflator(options = {}) {
  const intervalMs = options.intervalMs ?? REPAINT_INTERVAL_MS;
  const now = options.now ?? (() => Date.now());
  const setTimer = options.setTimer ?? ((run, ms) => setTimeout(run, ms));
  const clearTimer = options.clearTimer ?? ((timer) => clearTimeout(/** @type {ReturnType<typeof setTimeout>} */ (timer)));
  /** @type {Map<string, { last: number, paint: (() => void) | undefined, timer: unknown }>} */
  const tiles = new Map();

  /** @param {{ last: number, paint: (() => void) | undefined, timer: unknown }} state */
  const run = (state) => {
    const paint = state.paint;
    state.paint = undefined;
    state.timer = undefined;
    state.last = now();
    paint?.();
  };

  return {
    /**
     * @param {string} tile
     * @param {() => void} paint
     */
    schedule(tile, paint) {
      let state = tiles.get(tile);
      if (!state) tiles.set(tile, (state = { last: -Infinity, paint: undefined, timer: undefined }));
      state.paint = paint;
      if (state.timer !== undefined) return;
      const wait = state.last + intervalMs - now();
      if (wait <= 0) run(state);
      else {
        const pending = state;
        state.timer = setTimer(() => run(pending), wait);
      }
    },
    /** Drops every pending repaint (sign-out). */
    clear() {
      for (const state of tiles.values()) if (state.timer !== undefined) clearTimer(state.timer);
      tiles.clear();
    },
  };
}

/**
 * Appends one row to columnar chart data (`[xs, ys1, ys2, ...]`, uPlot's layout), keeping the
 * newest `max` rows. Mutates and returns `columns`.
 * @param {number[][]} columns
 * @param {number[]} row
 * @param {number} max
 */
export function appendRow(columns, row, max) {
  if (row.length !== columns.length) throw new Error(`row has ${row.length} values, the chart ${columns.length} series`);
  columns.forEach((column, i) => {
    column.push(/** @type {number} */ (row[i]));
    if (column.length > max) column.splice(0, column.length - max);
  });
  return columns;
}

/**
 * @param {number} value
 * @param {string} [locale]
 */
export const formatCount = (value, locale) => Math.round(value).toLocaleString(locale);

/**
 * A count with its unit, singular or plural: `1 user`, `1,204 events`.
 * @param {number} value
 * @param {string} singular
 * @param {string} plural
 * @param {string} [locale]
 */
export const formatWithUnit = (value, singular, plural, locale) => `${formatCount(value, locale)} ${Math.round(value) === 1 ? singular : plural}`;

/**
 * How many decimals show a value measured with this standard deviation: enough for two significant
 * digits of the uncertainty (0.3 -> 2, 2.5 -> 1, 12 -> 0), at most 6.
 * @param {number | null | undefined} sigma
 */
export function decimalsFor(sigma) {
  if (sigma === null || sigma === undefined || !Number.isFinite(sigma) || sigma <= 0) return 2;
  return Math.min(6, Math.max(0, 1 - Math.floor(Math.log10(sigma))));
}

/**
 * A measured value with its uncertainty and unit: `21.40 ± 0.30 °C`.
 * @param {number} value
 * @param {number | null | undefined} sigma
 * @param {string | null | undefined} unit
 * @param {string} [locale]
 */
export function formatMeasurement(value, sigma, unit, locale) {
  const decimals = decimalsFor(sigma);
  const fixed = (/** @type {number} */ n) => n.toLocaleString(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  const withSigma = sigma !== null && sigma !== undefined && Number.isFinite(sigma) ? `${fixed(value)} ± ${fixed(sigma)}` : fixed(value);
  return unit ? `${withSigma} ${unit}` : withSigma;
}

/**
 * A confidence interval at the precision its sigma allows: `19.93 to 21.07 °C`.
 * @param {number} lo
 * @param {number} hi
 * @param {number | null | undefined} sigma
 * @param {string | null | undefined} unit
 * @param {string} [locale]
 */
export function formatInterval(lo, hi, sigma, unit, locale) {
  const decimals = decimalsFor(sigma);
  const fixed = (/** @type {number} */ n) => n.toLocaleString(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return `${fixed(lo)} to ${fixed(hi)}${unit ? ` ${unit}` : ''}`;
}

/**
 * @param {number} pct
 * @param {string} [locale]
 */
export const formatPercent = (pct, locale) => `${pct.toLocaleString(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} %`;

/**
 * A point in time as local wall-clock time (the browser's zone and locale).
 * @param {string | number | Date} at
 * @param {string} [locale]
 */
export const formatLocalTime = (at, locale) => new Date(at).toLocaleTimeString(locale);

/**
 * An age in words: `12 s ago`, `3 min ago`, `2 h ago`.
 * @param {number} seconds
 */
export function formatAge(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return 'just now';
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/**
 * A duration in milliseconds at a useful precision: `0.84 ms`, `4.2 ms`, `120 ms`, `1.5 s`.
 * @param {number} ms
 * @param {string} [locale]
 */
export function formatMs(ms, locale) {
  const fixed = (/** @type {number} */ n, /** @type {number} */ decimals) => n.toLocaleString(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  if (ms >= 1000) return `${fixed(ms / 1000, 1)} s`;
  return `${fixed(ms, ms < 1 ? 2 : ms < 10 ? 1 : 0)} ms`;
}

/**
 * What the Feeds tile shows, in order: each figure's key (its `data-value`), label and value in words.
 * @param {import('./types.js').DashboardMetrics['feeds']} feeds
 * @param {string} [locale]
 * @returns {{ key: string, label: string, value: string }[]}
 */
export function describeFeeds(feeds, locale) {
  const perMinute = (/** @type {number} */ count) => `${formatCount(count, locale)} / min`;
  return [
    { key: 'recomputes', label: 'Recomputations', value: perMinute(feeds.recomputesLastMinute) },
    { key: 'median', label: 'Median recompute time', value: feeds.medianRecomputeMs === null ? 'none yet' : formatMs(feeds.medianRecomputeMs, locale) },
    { key: 'pushes', label: 'Pushes (feed:updated)', value: perMinute(feeds.pushesLastMinute) },
    { key: 'held-quiet', label: 'Held by quiet hours', value: perMinute(feeds.heldByQuietHoursLastMinute) },
    { key: 'held-budget', label: 'Held by the daily budget', value: perMinute(feeds.heldByBudgetLastMinute) },
  ];
}

/** Why a reading was left out of a fused value, in words (never by colour alone). */
export const exclusionReasons = {
  stale: 'excluded: too old (stale)',
  outlier: 'excluded: too far from the other readings (outlier)',
};

/** @param {string | undefined | null} reason */
export const describeExclusion = (reason) => (reason ? (exclusionReasons[/** @type {keyof typeof exclusionReasons} */ (reason)] ?? `excluded: ${reason}`) : '');

/**
 * What the sign-in field holds: an access token (a JWT: three base64url parts, the first a JSON
 * header), an API key (anything else), or nothing.
 * @param {string} text
 * @returns {'accessToken' | 'apiKey' | 'empty'}
 */
export function credentialKind(text) {
  const trimmed = text.trim();
  if (trimmed === '') return 'empty';
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(trimmed) ? 'accessToken' : 'apiKey';
}

/**
 * The claims of a JWT, unverified (the hub verifies it; the page only reads the tenant and the
 * expiry for display and scheduling). Undefined when it is not a readable JWT.
 * @param {string} token
 * @returns {{ sub?: string, tid?: string, role?: string, exp?: number } | undefined}
 */
export function readTokenClaims(token) {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    const claims = /** @type {unknown} */ (JSON.parse(new TextDecoder().decode(bytes)));
    return claims && typeof claims === 'object' ? /** @type {{ sub?: string, tid?: string, role?: string, exp?: number }} */ (claims) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When to refresh an access token that lives `expiresInSeconds`: a minute before it expires, or a
 * quarter of its life before for short-lived ones; never sooner than a second from now.
 * @param {number} expiresInSeconds
 */
export function refreshDelayMs(expiresInSeconds) {
  const lifeMs = expiresInSeconds * 1000;
  return Math.max(1000, lifeMs - Math.min(60_000, lifeMs / 4));
}

/**
 * The message a failed sign-in shows, from the hub's answer (problem+json when it has one).
 * @param {number} status
 * @param {{ title?: string, detail?: string } | undefined} problem
 */
export function signInError(status, problem) {
  const detail = problem?.detail ? ` (${problem.detail})` : '';
  if (status === 401) return `That API key or token was not accepted${detail}. Check it and try again.`;
  if (status === 403) return `This credential may not open the dashboard${detail}: use the tenant's API key or an admin's access token.`;
  if (status === 429) return `Too many attempts${detail}. Wait a little and try again.`;
  return `Sign-in failed: the hub answered ${status}${detail}.`;
}

/** Provider names as their owners write them. */
export const providerLabels = { shopify: 'Shopify', stripe: 'Stripe', etsy: 'Etsy', tiktok_shop: 'TikTok Shop' };

/** @param {string} provider */
export const providerLabel = (provider) => providerLabels[/** @type {keyof typeof providerLabels} */ (provider)] ?? provider;

/** A sync's state (the connection's, or the last `sync:progress` one) in words. */
export const syncStateLabels = {
  idle: 'Idle',
  queued: 'Queued',
  running: 'Running',
  rate_limited: 'Rate-limited',
  failed: 'Failed',
  completed: 'Completed',
  needs_reauth: 'Needs re-authorization',
  broken: 'Broken credentials',
};

/** @param {string} state */
export const syncStateLabel = (state) => syncStateLabels[/** @type {keyof typeof syncStateLabels} */ (state)] ?? state;

/**
 * Time left, for countdowns: `now`, `42 s`, `3 min 05 s`, `2 h 04 min`.
 * @param {number} ms
 */
export function formatCountdown(ms) {
  const seconds = Math.ceil(ms / 1000);
  if (!Number.isFinite(seconds) || seconds <= 0) return 'now';
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${two(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${two(Math.floor((seconds % 3600) / 60))} min`;
}

/**
 * A sync's figures in words: `3 pages · 30 records · 12 events · 18 unmatched` (pages left out when not given).
 * @param {{ pages?: number, records: number, events: number, unmatched: number }} figures
 * @param {string} [locale]
 */
export function formatSyncFigures(figures, locale) {
  const parts = [
    formatWithUnit(figures.records, 'record', 'records', locale),
    formatWithUnit(figures.events, 'event', 'events', locale),
    `${formatCount(figures.unmatched, locale)} unmatched`,
  ];
  if (figures.pages !== undefined) parts.unshift(formatWithUnit(figures.pages, 'page', 'pages', locale));
  return parts.join(' · ');
}

/**
 * @typedef {import('./types.js').ConnectionView} ConnectionView
 * @typedef {import('./types.js').SyncProgress} SyncProgress
 * @typedef {import('./types.js').SyncRowModel} SyncRowModel
 */

/** Progress states a run ends on: the connection row is read again after them. */
export const finalSyncStates = ['completed', 'failed', 'needs_reauth', 'broken'];

/**
 * What the Syncs tile shows of one connection: the connection as the API last gave it, overlaid
 * with the newest `sync:progress` received after that (live state, figures, a refused credential).
 * Either may be missing: a progress for a connection the page has not loaded yet still shows.
 * @param {ConnectionView | null} view
 * @param {SyncProgress | null} progress
 * @param {number} now
 * @param {string} [locale]
 * @returns {SyncRowModel}
 */
export function describeSync(view, progress, now, locale) {
  const id = view?.id ?? progress?.connectionId ?? '';
  const sync = view?.sync;
  const state = progress?.state ?? sync?.state ?? 'idle';
  // A refused credential in the newest progress flags the connection before the API is read again; a run
  // that goes on or completes proves the credentials work.
  const liveStatus = state === 'needs_reauth' || state === 'broken' ? state : state === 'running' || state === 'completed' ? 'active' : undefined;
  const status = liveStatus ?? view?.status ?? 'active';
  const ended = progress && finalSyncStates.includes(progress.state);
  const inRun = state === 'running' || state === 'rate_limited';
  // While a run goes on, the connection's stored figures are that run's so far, not the last finished one's.
  const storedFigures = sync?.state === 'running' || sync?.state === 'rate_limited' ? null : (sync?.lastRun ?? null);
  const liveFigures = inRun ? (progress ?? sync?.lastRun ?? null) : null;
  const lastRun = ended
    ? { at: progress.at, figures: progress, failed: progress.state !== 'completed' }
    : sync?.lastFinishedAt
      ? { at: sync.lastFinishedAt, figures: storedFigures, failed: sync.state === 'failed' }
      : null;
  const rateLimitedUntil = progress ? (progress.state === 'rate_limited' ? progress.rateLimitedUntil : undefined) : (sync?.rateLimitedUntil ?? undefined);
  const untilMs = rateLimitedUntil ? Date.parse(rateLimitedUntil) : NaN;
  const nextMs = sync?.nextRunAt ? Date.parse(sync.nextRunAt) : NaN;
  const circuit = progress?.circuit ?? sync?.circuit ?? 'closed';
  const error = progress ? (progress.error ?? null) : (sync?.lastError ?? null);
  const alert = status === 'needs_reauth' || status === 'broken' ? status : state === 'failed' ? 'failed' : null;
  const why = error ?? 'no reason given';
  return {
    id,
    name: view?.name ?? `Connection ${id.slice(0, 8)}`,
    provider: providerLabel(view?.provider ?? progress?.provider ?? ''),
    state,
    stateLabel: syncStateLabel(state),
    status,
    statusLabel: status === 'active' ? 'Active' : status === 'disabled' ? 'Disabled' : syncStateLabel(status),
    alert,
    alertText:
      alert === 'needs_reauth'
        ? `Needs re-authorization: ${error ?? 'the provider refused the credentials'}. PUT new credentials (or authorize again), then sync.`
        : alert === 'broken'
          ? `Stored credentials cannot be read: ${why}. PUT them again (or authorize again).`
          : alert === 'failed'
            ? `Last run failed: ${why}.`
            : null,
    live: liveFigures ? formatSyncFigures(liveFigures, locale) : null,
    lastRun: !lastRun
      ? 'Never'
      : [
          formatLocalTime(lastRun.at, locale),
          ...(lastRun.figures ? [`${formatWithUnit(lastRun.figures.records, 'record', 'records', locale)}, ${formatWithUnit(lastRun.figures.events, 'event', 'events', locale)}`] : []),
          ...(lastRun.failed ? ['failed'] : []),
        ].join(' · '),
    nextRun: Number.isFinite(nextMs) ? `${formatLocalTime(nextMs, locale)} (${nextMs > now ? `in ${formatCountdown(nextMs - now)}` : 'due'})` : view?.scheduleMinutes === null ? 'Manual only' : '–',
    rateLimitedUntil: untilMs > now ? `${formatLocalTime(untilMs, locale)} (in ${formatCountdown(untilMs - now)})` : null,
    // The countdowns above move every second while one of them runs.
    counting: untilMs > now || nextMs > now,
    circuit: circuit.replace('_', ' '),
    circuitOpen: circuit === 'open',
  };
}

/**
 * @typedef {import('./types.js').BackupStatus} BackupStatus
 * @typedef {import('./types.js').BackupModel} BackupModel
 */

/** A daily backup older than this is overdue (a day and two hours of slack for a slow run). */
export const BACKUP_STALE_HOURS = 26;

/**
 * A size in bytes with a binary unit: `512 B`, `3.4 MiB`, `1.2 GiB`.
 * @param {number} bytes
 * @param {string} [locale]
 */
export function formatBytes(bytes, locale) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const decimals = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toLocaleString(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals })} ${units[unit]}`;
}

/**
 * A point in time as local date and time, for what happens daily rather than by the second.
 * @param {string | number | Date} at
 * @param {string} [locale]
 */
export const formatLocalDateTime = (at, locale) => new Date(at).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * The status the Backups tile keeps: `dashboard:metrics` ticks read the stored status and
 * `backup:status` brings a run's end, and either may arrive after the other; the one about the
 * later run wins (on a tie the incoming one, which was read later).
 * @param {BackupStatus | null} held
 * @param {BackupStatus} incoming
 * @returns {BackupStatus}
 */
export function newerBackupStatus(held, incoming) {
  const finished = (/** @type {BackupStatus | null} */ status) => (status?.lastFinishedAt ? Date.parse(status.lastFinishedAt) : -Infinity);
  return finished(incoming) < finished(held) && held ? held : incoming;
}

/**
 * What the Backups tile shows, in words: how the latest run ended (a failure with its reason), the
 * last backup's time and size, its age (overdue after BACKUP_STALE_HOURS, or when there is none),
 * the last verified backup and the next scheduled run.
 * @param {BackupStatus} status
 * @param {number} now
 * @param {string} [locale]
 * @returns {BackupModel}
 */
export function describeBackups(status, now, locale) {
  const takenMs = status.lastBackupAt ? Date.parse(status.lastBackupAt) : NaN;
  const nextMs = status.nextRunAt ? Date.parse(status.nextRunAt) : NaN;
  const ageSeconds = (now - takenMs) / 1000;
  const stale = !Number.isFinite(takenMs) || ageSeconds > BACKUP_STALE_HOURS * 3600;
  const result = status.lastResult ?? 'none';
  return {
    result,
    resultLabel: result === 'verified' ? 'Verified' : result === 'failed' ? 'Failed' : 'No backup run yet',
    alertText: result === 'failed' ? `The last backup run failed: ${status.lastReason ?? 'no reason given'}.` : null,
    lastBackup: Number.isFinite(takenMs)
      ? [formatLocalDateTime(takenMs, locale), ...(status.lastBackupBytes === null ? [] : [formatBytes(status.lastBackupBytes, locale)])].join(' · ')
      : 'Never',
    age: Number.isFinite(takenMs) ? formatAge(ageSeconds) : 'No backup yet',
    stale,
    lastVerified: status.lastVerifiedAt
      ? [formatLocalDateTime(status.lastVerifiedAt, locale), ...(status.lastVerificationMs === null ? [] : [`restore checked in ${formatMs(status.lastVerificationMs, locale)}`])].join(' · ')
      : 'Never',
    nextRun: Number.isFinite(nextMs) ? `${formatLocalDateTime(nextMs, locale)} (${nextMs > now ? `in ${formatCountdown(nextMs - now)}` : 'due'})` : 'Not scheduled (BACKUP_CRON is off)',
  };
}
