/**
 * Shared machinery of the provider simulator: seeded records, the call log, fault switches and
 * OAuth token bookkeeping. The provider modules (shopify.ts, stripe.ts, etsy.ts, tiktok.ts) render
 * these into each provider's own wire format; server.ts runs the pipeline around them.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { prng } from '../support/seeded-random.js';

export const providerNames = ['shopify', 'stripe', 'etsy', 'tiktok'] as const;
export type ProviderName = (typeof providerNames)[number];
/** Providers whose API uses OAuth access tokens that expire and rotate (Etsy, TikTok Shop). */
export type OAuthProvider = 'etsy' | 'tiktok';

/** One order / charge / receipt, provider-neutral; each module renders it in its own shape. */
export interface SimRecord {
  id: string;
  /** Amount in minor units (cents). */
  amountMinor: number;
  /** ISO 4217, upper case. */
  currency: string;
  email: string;
  status: 'paid' | 'pending' | 'refunded';
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
  /** Starts at 1; every change bumps it (and updatedAt). */
  version: number;
}

export type SeedRecord = Omit<SimRecord, 'id' | 'version' | 'updatedAt'> &
  Partial<Pick<SimRecord, 'id' | 'version' | 'updatedAt'>>;

export interface SeedOptions {
  count: number;
  /** Customer emails drawn from (default customer1..40@example.com). */
  emails?: readonly string[];
  /** Currency of the account (default by account hash among USD, EUR, GBP). */
  currency?: string;
  /** Newest record's creation time (default now − 1 minute); records go back `spanDays`. */
  newestAt?: number;
  spanDays?: number;
}

export interface CallRecord {
  seq: number;
  /** Milliseconds since the epoch when the request arrived. */
  at: number;
  provider: ProviderName;
  account: string | undefined;
  /** Logical endpoint, e.g. `orders.list`, `token.refresh`, `oauth.authorize`. */
  endpoint: string;
  kind: EndpointKind;
  method: string;
  path: string;
  status: number;
  /** Set when a fault switch produced (or delayed) the answer. */
  fault?: 'rate_limit' | 'server_error' | 'backoff_violation' | 'bucket_full';
  delayedMs?: number;
  /** A call that arrived while a Retry-After this simulator sent was still running. */
  duringBackoff: boolean;
}

export type EndpointKind = 'data' | 'token' | 'authorize';

export interface RecordChange {
  provider: ProviderName;
  account: string;
  id: string;
  version: number;
  updatedAt: number;
  /** Which list page had just been served (1-based, counted from when the switch was armed). */
  afterPage: number;
}

// ---------------------------------------------------------------------------------------------
// Seeded data

export function hashOf(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

export const defaultEmails: readonly string[] = Array.from({ length: 40 }, (_, i) => `customer${i + 1}@example.com`);

/** Provider-shaped ids: Shopify/Etsy numeric, Stripe `ch_…`, TikTok 18-digit strings. */
export function recordId(provider: ProviderName, account: string, index: number): string {
  const base = hashOf(`${provider}:${account}`) % 1_000_000;
  switch (provider) {
    case 'shopify':
      return String(5_000_000_000_000 + base * 100_000 + index);
    case 'etsy':
      return String(3_000_000_000 + base * 1_000 + index);
    case 'tiktok':
      return String(576_000_000_000_000_000n + BigInt(base) * 1_000_000n + BigInt(index));
    case 'stripe': {
      const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
      const digest = createHash('sha256').update(`${account}:${index}`).digest();
      let id = 'ch_3';
      for (let i = 0; i < 23; i += 1) id += alphabet[(digest[i] ?? 0) % alphabet.length];
      return id;
    }
  }
}

/** A few hundred varied records per account by default; deterministic for (provider, account). */
export function generateRecords(provider: ProviderName, account: string, options: SeedOptions): SimRecord[] {
  const random = prng(hashOf(`${provider}/${account}`));
  const emails = options.emails ?? defaultEmails;
  const currency = options.currency ?? (['USD', 'EUR', 'GBP'] as const)[hashOf(account) % 3] ?? 'USD';
  const newestAt = options.newestAt ?? Date.now() - 60_000;
  const span = (options.spanDays ?? 90) * 86_400_000;
  const step = options.count > 1 ? span / (options.count - 1) : 0;
  const records: SimRecord[] = [];
  for (let i = 0; i < options.count; i += 1) {
    // Oldest first; whole seconds (Stripe, Etsy and TikTok carry Unix seconds).
    const createdAt = Math.floor((newestAt - span + i * step) / 1000) * 1000;
    const roll = random();
    const status: SimRecord['status'] = roll < 0.85 ? 'paid' : roll < 0.93 ? 'pending' : 'refunded';
    const updatedAt = Math.min(newestAt, createdAt + Math.floor(random() * 3_600) * 1000);
    records.push({
      id: recordId(provider, account, i + 1),
      amountMinor: 500 + Math.floor(random() * 49_500),
      currency,
      email: emails[Math.floor(random() * emails.length)] ?? 'customer@example.com',
      status,
      createdAt,
      updatedAt,
      version: 1,
    });
  }
  return records;
}

// ---------------------------------------------------------------------------------------------
// Faults

export type FaultScope = 'data' | 'token' | 'all';

interface Target {
  provider: ProviderName;
  /** Undefined: every account of the provider. */
  account: string | undefined;
  scope: FaultScope;
}

export interface RateLimitFault {
  account?: string;
  /** How many calls answer 429 (default 1). Calls inside a running Retry-After also get 429. */
  times?: number;
  retryAfterSeconds: number;
  /** `seconds` (default): `Retry-After: 2`; `http-date`: `Retry-After: Wed, 02 Dec 2026 16:30:02 GMT`. */
  form?: 'seconds' | 'http-date';
  scope?: FaultScope;
}

export interface ServerErrorFault {
  account?: string;
  /** How many consecutive calls fail (a burst), then the provider recovers. */
  times: number;
  status?: 500 | 502 | 503 | 504;
  scope?: FaultScope;
}

export interface SlowFault {
  account?: string;
  delayMs: number;
  /** Default: every call until cleared. */
  times?: number;
  scope?: FaultScope;
}

export interface ExpireTokensFault {
  account?: string;
  /** Access tokens expire after this many more successful data calls (0: now). */
  afterCalls: number;
}

export interface ChangeRecordFault {
  account?: string;
  /** After the n-th list page served from now (default 1), bump a record. */
  afterPage?: number;
  /** Default: the first record of the page just served (one the client already holds). */
  recordId?: string;
}

interface Armed<T> extends Target {
  spec: T;
  remaining: number;
}

function matches(target: Target, provider: ProviderName, account: string | undefined, kind: EndpointKind): boolean {
  if (target.provider !== provider) return false;
  if (target.account !== undefined && target.account !== account) return false;
  if (target.scope === 'all') return true;
  return target.scope === 'token' ? kind === 'token' : kind === 'data';
}

export interface RetryAfter {
  header: string;
  /** When the client may call again (ms since the epoch). */
  until: number;
}

export function retryAfter(seconds: number, form: 'seconds' | 'http-date', now: number, decimal = false): RetryAfter {
  if (form === 'http-date') {
    // An HTTP-date has whole-second resolution: round up so waiting until it is always enough.
    const until = Math.ceil((now + seconds * 1000) / 1000) * 1000;
    return { header: new Date(until).toUTCString(), until };
  }
  return { header: decimal ? seconds.toFixed(1) : String(Math.ceil(seconds)), until: now + seconds * 1000 };
}

export type FaultDecision =
  | { kind: 'rate_limit'; retryAfter: RetryAfter; backoffViolation: boolean }
  | { kind: 'server_error'; status: number }
  | undefined;

export class Faults {
  private rateLimits: Armed<RateLimitFault>[] = [];
  private serverErrors: Armed<ServerErrorFault>[] = [];
  private slows: Armed<SlowFault>[] = [];
  private expiries: Armed<ExpireTokensFault>[] = [];
  private changes: Armed<ChangeRecordFault>[] = [];
  /** provider|account → the Retry-After window of the last 429 sent, and which calls it covers. */
  private readonly backoff = new Map<string, { until: number; scope: FaultScope }>();

  rateLimit(provider: ProviderName, spec: RateLimitFault): void {
    this.rateLimits.push({ provider, account: spec.account, scope: spec.scope ?? 'data', spec, remaining: spec.times ?? 1 });
  }

  serverError(provider: ProviderName, spec: ServerErrorFault): void {
    this.serverErrors.push({ provider, account: spec.account, scope: spec.scope ?? 'data', spec, remaining: spec.times });
  }

  slow(provider: ProviderName, spec: SlowFault): void {
    this.slows.push({ provider, account: spec.account, scope: spec.scope ?? 'all', spec, remaining: spec.times ?? Infinity });
  }

  expireTokens(provider: OAuthProvider, spec: ExpireTokensFault): void {
    this.expiries.push({ provider, account: spec.account, scope: 'data', spec, remaining: spec.afterCalls });
  }

  changeRecord(provider: ProviderName, spec: ChangeRecordFault): void {
    this.changes.push({ provider, account: spec.account, scope: 'data', spec, remaining: spec.afterPage ?? 1 });
  }

  /** Disarms every switch (of one provider, or all) and forgets running Retry-After windows. */
  clear(provider?: ProviderName): void {
    const keep = <T>(list: Armed<T>[]) => (provider === undefined ? [] : list.filter((f) => f.provider !== provider));
    this.rateLimits = keep(this.rateLimits);
    this.serverErrors = keep(this.serverErrors);
    this.slows = keep(this.slows);
    this.expiries = keep(this.expiries);
    this.changes = keep(this.changes);
    for (const key of [...this.backoff.keys()]) if (provider === undefined || key.startsWith(`${provider}|`)) this.backoff.delete(key);
  }

  /** Whether a Retry-After window is running for the account (ms left, 0 if none). */
  backoffLeft(provider: ProviderName, account: string | undefined, now = Date.now()): number {
    return Math.max(0, (this.backoff.get(`${provider}|${account ?? ''}`)?.until ?? 0) - now);
  }

  /** The delay to apply to this call (consumes one use of a counted slow switch). */
  delayFor(provider: ProviderName, account: string | undefined, kind: EndpointKind): number {
    const slow = this.slows.find((f) => f.remaining > 0 && matches(f, provider, account, kind));
    if (!slow) return 0;
    slow.remaining -= 1;
    return slow.spec.delayMs;
  }

  /** What the call gets instead of an answer, if a switch or a running Retry-After says so. */
  decide(provider: ProviderName, account: string | undefined, kind: EndpointKind, now: number, decimal: boolean): FaultDecision {
    const key = `${provider}|${account ?? ''}`;
    const window = this.backoff.get(key);
    if (window && window.until > now && matches({ provider, account, scope: window.scope }, provider, account, kind)) {
      return { kind: 'rate_limit', retryAfter: retryAfter((window.until - now) / 1000, 'seconds', now, decimal), backoffViolation: true };
    }
    const limit = this.rateLimits.find((f) => f.remaining > 0 && matches(f, provider, account, kind));
    if (limit) {
      limit.remaining -= 1;
      const after = retryAfter(limit.spec.retryAfterSeconds, limit.spec.form ?? 'seconds', now, decimal);
      this.backoff.set(key, { until: after.until, scope: limit.scope });
      return { kind: 'rate_limit', retryAfter: after, backoffViolation: false };
    }
    const error = this.serverErrors.find((f) => f.remaining > 0 && matches(f, provider, account, kind));
    if (error) {
      error.remaining -= 1;
      return { kind: 'server_error', status: error.spec.status ?? 503 };
    }
    return undefined;
  }

  /** Before a data call: whether an expire-tokens switch is due now (it then fires, once). */
  dueExpiry(provider: ProviderName, account: string | undefined): boolean {
    const due = this.expiries.filter((f) => f.remaining === 0 && matches(f, provider, account, 'data'));
    this.expiries = this.expiries.filter((f) => !due.includes(f));
    return due.length > 0;
  }

  /** After a successful data call: counts it towards the expire-tokens switches. */
  countDataCall(provider: ProviderName, account: string | undefined): void {
    for (const f of this.expiries) if (f.remaining > 0 && matches(f, provider, account, 'data')) f.remaining -= 1;
  }

  /** After a list page was served: the change switches that fire now (each fires once). */
  takeChanges(provider: ProviderName, account: string): ChangeRecordFault[] {
    const fired: ChangeRecordFault[] = [];
    for (const f of this.changes) {
      if (f.remaining <= 0 || !matches(f, provider, account, 'data')) continue;
      f.remaining -= 1;
      if (f.remaining === 0) fired.push(f.spec);
    }
    this.changes = this.changes.filter((f) => f.remaining > 0);
    return fired;
  }
}

// ---------------------------------------------------------------------------------------------
// Calls

export interface CallFilter {
  provider?: ProviderName;
  account?: string;
  endpoint?: string;
  kind?: EndpointKind;
  /** Only calls that arrived at or after this time (ms). */
  since?: number;
  until?: number;
}

export class CallLog {
  private readonly entries: CallRecord[] = [];
  private seq = 0;

  add(entry: Omit<CallRecord, 'seq'>): CallRecord {
    this.seq += 1;
    const record = { seq: this.seq, ...entry };
    this.entries.push(record);
    return record;
  }

  list(filter: CallFilter = {}): CallRecord[] {
    return this.entries.filter(
      (c) =>
        (filter.provider === undefined || c.provider === filter.provider) &&
        (filter.account === undefined || c.account === filter.account) &&
        (filter.endpoint === undefined || c.endpoint === filter.endpoint) &&
        (filter.kind === undefined || c.kind === filter.kind) &&
        (filter.since === undefined || c.at >= filter.since) &&
        (filter.until === undefined || c.at < filter.until),
    );
  }

  count(filter: CallFilter = {}): number {
    return this.list(filter).length;
  }

  /** Token refreshes (refresh-token grants) received, successful or not. */
  refreshes(provider?: ProviderName, account?: string): number {
    return this.count({ endpoint: 'token.refresh', ...(provider && { provider }), ...(account !== undefined && { account }) });
  }

  /** Calls that ignored a Retry-After this simulator had sent. */
  backoffViolations(provider?: ProviderName, account?: string): number {
    return this.list({ ...(provider && { provider }), ...(account !== undefined && { account }) }).filter((c) => c.duringBackoff).length;
  }

  /** provider → account ('' when unknown) → endpoint → count. */
  summary(): Record<string, Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, Record<string, number>>> = {};
    for (const c of this.entries) {
      const byAccount = (out[c.provider] ??= {});
      const byEndpoint = (byAccount[c.account ?? ''] ??= {});
      byEndpoint[c.endpoint] = (byEndpoint[c.endpoint] ?? 0) + 1;
    }
    return out;
  }

  reset(): void {
    this.entries.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// OAuth tokens (Etsy, TikTok Shop)

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** ms since the epoch */
  accessExpiresAt: number;
  refreshExpiresAt: number;
}

interface AccessEntry {
  provider: OAuthProvider;
  account: string;
  expiresAt: number;
}

interface RefreshEntry extends AccessEntry {
  revoked: boolean;
}

interface CodeEntry {
  provider: OAuthProvider;
  account: string;
  expiresAt: number;
  used: boolean;
  redirectUri?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  clientId?: string;
}

export type RefreshOutcome =
  | { ok: true; account: string; tokens: IssuedTokens }
  | { ok: false; reason: 'unknown' | 'revoked' | 'expired' };

export class TokenStore {
  private readonly access = new Map<string, AccessEntry>();
  private readonly refresh = new Map<string, RefreshEntry>();
  private readonly codes = new Map<string, CodeEntry>();
  /** Seconds: Etsy documents 3600 s access / 90 days refresh; TikTok Shop ≈ 7 days / ≈ 1 year. */
  readonly accessTtl: Record<OAuthProvider, number> = { etsy: 3600, tiktok: 7 * 86_400 };
  readonly refreshTtl: Record<OAuthProvider, number> = { etsy: 90 * 86_400, tiktok: 365 * 86_400 };
  /** Per provider: the prefix an access/refresh token carries (Etsy: `{user_id}.`). */
  constructor(private readonly prefixFor: (provider: OAuthProvider, account: string) => string) {}

  issue(provider: OAuthProvider, account: string, now = Date.now()): IssuedTokens {
    const prefix = this.prefixFor(provider, account);
    const accessToken = prefix + randomBytes(36).toString('base64url');
    const refreshToken = prefix + randomBytes(36).toString('base64url');
    const tokens = {
      accessToken,
      refreshToken,
      accessExpiresAt: now + this.accessTtl[provider] * 1000,
      refreshExpiresAt: now + this.refreshTtl[provider] * 1000,
    };
    this.access.set(accessToken, { provider, account, expiresAt: tokens.accessExpiresAt });
    this.refresh.set(refreshToken, { provider, account, expiresAt: tokens.refreshExpiresAt, revoked: false });
    return tokens;
  }

  /** The account the access token belongs to, or why not. */
  checkAccess(provider: OAuthProvider, token: string | undefined, now = Date.now()): { account: string } | { error: 'missing' | 'invalid' | 'expired' } {
    if (!token) return { error: 'missing' };
    const entry = this.access.get(token);
    if (!entry || entry.provider !== provider) return { error: 'invalid' };
    if (entry.expiresAt <= now) return { error: 'expired' };
    return { account: entry.account };
  }

  /** Rotation: a used refresh token is revoked; using it again fails (`invalid_grant`). */
  rotate(provider: OAuthProvider, refreshToken: string, now = Date.now()): RefreshOutcome {
    const entry = this.refresh.get(refreshToken);
    if (!entry || entry.provider !== provider) return { ok: false, reason: 'unknown' };
    if (entry.revoked) return { ok: false, reason: 'revoked' };
    if (entry.expiresAt <= now) return { ok: false, reason: 'expired' };
    entry.revoked = true;
    return { ok: true, account: entry.account, tokens: this.issue(provider, entry.account, now) };
  }

  accountOfRefresh(provider: OAuthProvider, refreshToken: string): string | undefined {
    const entry = this.refresh.get(refreshToken);
    return entry?.provider === provider ? entry.account : undefined;
  }

  accountOfAccess(provider: OAuthProvider, accessToken: string): string | undefined {
    const entry = this.access.get(accessToken);
    return entry?.provider === provider ? entry.account : undefined;
  }

  /** Expires every access token of the account (or of the provider) now. */
  expireAccess(provider: OAuthProvider, account?: string, now = Date.now()): number {
    let n = 0;
    for (const entry of this.access.values()) {
      if (entry.provider === provider && (account === undefined || entry.account === account) && entry.expiresAt > now) {
        entry.expiresAt = now - 1;
        n += 1;
      }
    }
    return n;
  }

  revokeRefresh(refreshToken: string): void {
    const entry = this.refresh.get(refreshToken);
    if (entry) entry.revoked = true;
  }

  /** Refresh tokens of the account that still work. */
  liveRefreshTokens(provider: OAuthProvider, account: string, now = Date.now()): string[] {
    return [...this.refresh.entries()]
      .filter(([, e]) => e.provider === provider && e.account === account && !e.revoked && e.expiresAt > now)
      .map(([token]) => token);
  }

  createCode(provider: OAuthProvider, account: string, details: Omit<CodeEntry, 'provider' | 'account' | 'expiresAt' | 'used'> = {}, now = Date.now()): string {
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { provider, account, expiresAt: now + 10 * 60_000, used: false, ...details });
    return code;
  }

  /** Single use: a code is spent by the first exchange attempt, right or wrong. */
  takeCode(provider: OAuthProvider, code: string, now = Date.now()): CodeEntry | 'unknown' | 'used' | 'expired' {
    const entry = this.codes.get(code);
    if (!entry || entry.provider !== provider) return 'unknown';
    if (entry.used) return 'used';
    entry.used = true;
    if (entry.expiresAt <= now) return 'expired';
    return entry;
  }
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

// ---------------------------------------------------------------------------------------------
// Requests and responses as the provider modules see them

export interface SimRequest {
  method: string;
  /** Path below the provider's prefix, e.g. `/admin/api/2025-01/orders.json`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Absolute URL of the provider's base on this simulator, e.g. `http://127.0.0.1:4100/stripe`. */
  base: string;
  now: number;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** For list endpoints: the ids of the records on the page (drives "record changed between pages"). */
  servedIds?: string[];
  /** Set to true by list endpoints, so page counting for change switches works. */
  listPage?: boolean;
}

/** What a provider module tells the pipeline about a request before answering it. */
export interface Route {
  endpoint: string;
  kind: EndpointKind;
  account: string | undefined;
  handle: () => SimResponse | Promise<SimResponse>;
}

export interface ProviderModule {
  readonly name: ProviderName;
  route(req: SimRequest): Route | undefined;
  /** The provider's 429 answer for a fault switch or a Retry-After window still running. */
  rateLimited(retryAfter: RetryAfter, req: SimRequest): SimResponse;
  serverError(status: number, req: SimRequest): SimResponse;
  /** Shopify sends `Retry-After: 2.0`; the others whole seconds. */
  readonly decimalRetryAfter?: boolean;
}

export interface SimState {
  records: Map<ProviderName, Map<string, SimRecord[]>>;
  tokens: TokenStore;
  faults: Faults;
}

export function accountRecords(state: SimState, provider: ProviderName, account: string): SimRecord[] | undefined {
  return state.records.get(provider)?.get(account);
}

export function header(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export function bearer(req: SimRequest): string | undefined {
  const auth = header(req, 'authorization');
  const match = auth && /^Bearer\s+(.+)$/i.exec(auth);
  return match ? match[1]?.trim() : undefined;
}

export function parseForm(req: SimRequest): URLSearchParams {
  return new URLSearchParams(req.rawBody);
}

export function intParam(value: string | null, fallback: number): number | 'invalid' {
  if (value === null || value === '') return fallback;
  return /^\d+$/.test(value) ? Number(value) : 'invalid';
}

export const encodeCursor = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function decodeCursor(text: string): unknown {
  try {
    return JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export const unixSeconds = (ms: number): number => Math.floor(ms / 1000);
export const money = (minor: number): string => (minor / 100).toFixed(2);
