/**
 * The provider simulator: one real HTTP server (node:http) answering as Shopify, Stripe, Etsy and
 * TikTok Shop under path prefixes, over seeded records, with fault switches, a call log and OAuth
 * token bookkeeping — all driven from tests by direct function calls (no control endpoints).
 *
 *   const sim = await startProviderSimulator();
 *   sim.seed('stripe', 'acct_a', 250);
 *   sim.faults.rateLimit('stripe', { retryAfterSeconds: 2, form: 'http-date' });
 *   await fetch(`${sim.baseUrls.stripe}/v1/charges?limit=100`, { headers: { Authorization: `Bearer ${sim.tokens.stripe('acct_a')}` } });
 *   sim.calls.count({ provider: 'stripe', account: 'acct_a' });
 *   await sim.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  CallRecord,
  ChangeRecordFault,
  EndpointKind,
  ExpireTokensFault,
  IssuedTokens,
  OAuthProvider,
  ProviderModule,
  ProviderName,
  RateLimitFault,
  RecordChange,
  SeedOptions,
  SeedRecord,
  ServerErrorFault,
  SimRecord,
  SimRequest,
  SimResponse,
  SimState,
  SlowFault,
} from './core.js';
import { CallLog, Faults, generateRecords, providerNames, recordId, TokenStore } from './core.js';
import { createEtsy, type EtsyOptions } from './etsy.js';
import { createShopify, type ShopifyOptions } from './shopify.js';
import { createStripe } from './stripe.js';
import { createTikTok, type TikTokOptions } from './tiktok.js';

export type * from './core.js';
export { tiktokCodes, tiktokSign } from './tiktok.js';

export interface ProviderSimulatorOptions {
  /** Default 0 (a free port). */
  port?: number;
  host?: string;
  shopify?: ShopifyOptions;
  etsy?: EtsyOptions;
  tiktok?: TikTokOptions;
}

export interface ProviderSimulator {
  /** e.g. `http://127.0.0.1:41234` */
  readonly url: string;
  /** Where each real host lives on the simulator. */
  readonly baseUrls: {
    /** `https://{shop}.myshopify.com` */
    shopify: (shop: string) => string;
    /** `https://api.stripe.com` */
    stripe: string;
    /** `https://api.etsy.com` (token endpoint `/v3/public/oauth/token`, API `/v3/application/…`) */
    etsy: string;
    /** `https://www.etsy.com/oauth/connect` */
    etsyConnect: string;
    /** `https://open-api.tiktokglobalshop.com` */
    tiktok: string;
    /** `https://auth.tiktok-shops.com` */
    tiktokAuth: string;
    /** `https://services.tiktokshop.com/open/authorize` */
    tiktokAuthorize: string;
  };
  /** Replaces an account's records: a count, generator options, or explicit records. Returns them. */
  seed(provider: ProviderName, account: string, records?: number | SeedOptions | SeedRecord[]): SimRecord[];
  /** A snapshot of an account's records (copies). */
  records(provider: ProviderName, account: string): SimRecord[];
  /** Bumps a record's version and updated time now (default: the newest record). */
  changeRecord(provider: ProviderName, account: string, id?: string): RecordChange;
  /** Every change made by `changeRecord` or a change-between-pages switch, in order. */
  readonly changes: readonly RecordChange[];
  readonly faults: {
    /** 429 with Retry-After (seconds or HTTP-date); calls during the window also get 429 (logged as backoff violations). */
    rateLimit(provider: ProviderName, spec: RateLimitFault): void;
    /** A burst of `times` 5xx answers, then recovery. */
    serverError(provider: ProviderName, spec: ServerErrorFault): void;
    slow(provider: ProviderName, spec: SlowFault): void;
    /** The account's access tokens expire after `afterCalls` more successful data calls. */
    expireTokens(provider: OAuthProvider, spec: ExpireTokensFault): void;
    /** After the n-th list page served, a record (default: the page's first) changes. */
    changeBetweenPages(provider: ProviderName, spec: ChangeRecordFault): void;
    /** ms left of a Retry-After window the simulator sent. */
    backoffLeft(provider: ProviderName, account?: string): number;
    clear(provider?: ProviderName): void;
  };
  readonly calls: Pick<CallLog, 'list' | 'count' | 'refreshes' | 'backoffViolations' | 'summary' | 'reset'>;
  readonly tokens: {
    /** The shop's Admin API access token (`X-Shopify-Access-Token`). */
    shopify(shop: string): string;
    /** The account's secret key. */
    stripe(account: string): string;
    /** Issues an access/refresh pair directly (as if the OAuth dance had happened). */
    issue(provider: OAuthProvider, account: string): IssuedTokens;
    /** An authorization code for the account (Etsy: bound to the PKCE challenge and redirect URI). */
    authCode(provider: OAuthProvider, account: string, details?: { codeChallenge?: string; redirectUri?: string }): string;
    /** Expires the account's access tokens now (or every account's). */
    expire(provider: OAuthProvider, account?: string): number;
    /** Refresh tokens of the account that have not been used, revoked or expired. */
    liveRefreshTokens(provider: OAuthProvider, account: string): string[];
    /** Access-token lifetime of future tokens, seconds. */
    setAccessTtl(provider: OAuthProvider, seconds: number): void;
  };
  readonly credentials: {
    etsy: { keystring: string; sharedSecret: string; apiKey: string };
    tiktok: { appKey: string; appSecret: string; serviceId: string };
  };
  readonly accounts: {
    etsyUserId(shop: string): number;
    tiktokShopCipher(shop: string): string;
  };
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, response: SimResponse): void {
  if (res.destroyed) return;
  const headers: Record<string, string> = { ...response.headers };
  let payload: string | undefined;
  if (response.body !== undefined) {
    payload = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    headers['Content-Type'] ??= typeof response.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}

export async function startProviderSimulator(options: ProviderSimulatorOptions = {}): Promise<ProviderSimulator> {
  const records = new Map<ProviderName, Map<string, SimRecord[]>>(providerNames.map((p) => [p, new Map()]));
  const faults = new Faults();
  const calls = new CallLog();
  const changes: RecordChange[] = [];
  let etsyPrefix: (shop: string) => string = () => '';
  const tokens = new TokenStore((provider, account) => (provider === 'etsy' ? etsyPrefix(account) : provider === 'tiktok' ? 'ROW_' : ''));
  const state: SimState = { records, tokens, faults };

  const shopify = createShopify(state, options.shopify);
  const stripe = createStripe(state);
  const etsy = createEtsy(state, options.etsy);
  const tiktok = createTikTok(state, options.tiktok);
  etsyPrefix = etsy.tokenPrefix;
  const modules: Record<ProviderName, ProviderModule> = { shopify: shopify.module, stripe: stripe.module, etsy: etsy.module, tiktok: tiktok.module };

  function bump(provider: ProviderName, account: string, id: string | undefined, afterPage: number): RecordChange {
    const list = records.get(provider)?.get(account);
    if (!list || list.length === 0) throw new Error(`no records for ${provider}/${account}`);
    const record = id === undefined ? list.reduce((a, b) => (b.createdAt > a.createdAt ? b : a)) : list.find((r) => r.id === id);
    if (!record) throw new Error(`no record ${id} in ${provider}/${account}`);
    // Whole seconds, strictly later than before: Stripe, Etsy and TikTok carry Unix seconds.
    record.updatedAt = Math.max(Math.floor(Date.now() / 1000) * 1000, Math.floor(record.updatedAt / 1000) * 1000 + 1000);
    record.version += 1;
    const change = { provider, account, id: record.id, version: record.version, updatedAt: record.updatedAt, afterPage };
    changes.push(change);
    return change;
  }

  let url = '';
  const baseOf = (provider: ProviderName) => `${url}/${provider}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const parsed = new URL(req.url ?? '/', 'http://simulator');
    const [, first = '', ...rest] = parsed.pathname.split('/');
    const provider = providerNames.find((p) => p === first);
    const rawBody = await readBody(req);
    if (!provider) return send(res, { status: 404, body: { error: 'not a simulated provider', providers: providerNames } });
    const module = modules[provider];
    const simReq: SimRequest = { method: req.method ?? 'GET', path: `/${rest.join('/')}`, query: parsed.searchParams, headers: req.headers, rawBody, base: baseOf(provider), now: at };
    const route = module.route(simReq);
    const log = (response: SimResponse, extra: Partial<CallRecord> & { kind: EndpointKind; endpoint: string; account: string | undefined }) =>
      calls.add({ at, provider, method: simReq.method, path: parsed.pathname, status: response.status, duringBackoff: false, ...extra });
    if (!route) {
      const response = { status: 404, body: { error: `no simulated endpoint ${simReq.method} ${simReq.path}` } };
      log(response, { kind: 'data', endpoint: 'unknown', account: undefined });
      return send(res, response);
    }
    const delay = faults.delayFor(provider, route.account, route.kind);
    if (delay > 0) await sleep(delay);
    simReq.now = Date.now();
    const decision = faults.decide(provider, route.account, route.kind, simReq.now, module.decimalRetryAfter ?? false);
    let response: SimResponse;
    let fault: CallRecord['fault'];
    if (decision?.kind === 'rate_limit') {
      response = module.rateLimited(decision.retryAfter, simReq);
      fault = decision.backoffViolation ? 'backoff_violation' : 'rate_limit';
    } else if (decision?.kind === 'server_error') {
      response = module.serverError(decision.status, simReq);
      fault = 'server_error';
    } else {
      if (route.kind === 'data' && (provider === 'etsy' || provider === 'tiktok') && faults.dueExpiry(provider, route.account)) {
        tokens.expireAccess(provider, route.account, simReq.now);
      }
      response = await route.handle();
      if (route.kind === 'data' && response.status < 300) {
        faults.countDataCall(provider, route.account);
        if (response.listPage && route.account !== undefined) {
          for (const spec of faults.takeChanges(provider, route.account)) {
            bump(provider, route.account, spec.recordId ?? response.servedIds?.[0], spec.afterPage ?? 1);
          }
        }
      }
      if (response.status === 429 && provider === 'shopify') fault = 'bucket_full';
    }
    log(response, {
      kind: route.kind,
      endpoint: route.endpoint,
      account: route.account,
      ...(fault && { fault }),
      ...(delay > 0 && { delayedMs: delay }),
      duringBackoff: fault === 'backoff_violation',
    });
    send(res, response);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      send(res, { status: 500, body: { error: 'simulator failure', detail: String(error) } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  url = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;

  const register = (provider: ProviderName, account: string) => {
    if (provider === 'shopify') shopify.tokenFor(account);
    if (provider === 'stripe') stripe.keyFor(account);
    if (provider === 'etsy') etsy.register(account);
    if (provider === 'tiktok') tiktok.register(account);
  };

  return {
    url,
    baseUrls: {
      shopify: (shop) => `${url}/shopify/${shop}`,
      stripe: `${url}/stripe`,
      etsy: `${url}/etsy`,
      etsyConnect: `${url}/etsy/oauth/connect`,
      tiktok: `${url}/tiktok`,
      tiktokAuth: `${url}/tiktok/auth`,
      tiktokAuthorize: `${url}/tiktok/services/open/authorize`,
    },
    seed(provider, account, input = 300) {
      if ((provider === 'shopify' && !/^[a-z0-9][a-z0-9-]*$/.test(account)) || ((provider === 'etsy' || provider === 'tiktok') && !/^\d+$/.test(account))) {
        throw new Error(`${provider} account names must be ${provider === 'shopify' ? 'shop handles (a-z0-9-)' : 'numeric shop ids'}: ${account}`);
      }
      const list =
        typeof input === 'number'
          ? generateRecords(provider, account, { count: input })
          : Array.isArray(input)
            ? input.map((r, i) => ({ ...r, id: r.id ?? recordId(provider, account, i + 1), version: r.version ?? 1, updatedAt: r.updatedAt ?? r.createdAt }))
            : generateRecords(provider, account, input);
      records.get(provider)?.set(account, list);
      register(provider, account);
      return list.map((r) => ({ ...r }));
    },
    records: (provider, account) => (records.get(provider)?.get(account) ?? []).map((r) => ({ ...r })),
    changeRecord: (provider, account, id) => bump(provider, account, id, 0),
    changes,
    faults: {
      rateLimit: (provider, spec) => faults.rateLimit(provider, spec),
      serverError: (provider, spec) => faults.serverError(provider, spec),
      slow: (provider, spec) => faults.slow(provider, spec),
      expireTokens: (provider, spec) => faults.expireTokens(provider, spec),
      changeBetweenPages: (provider, spec) => faults.changeRecord(provider, spec),
      backoffLeft: (provider, account) => faults.backoffLeft(provider, account),
      clear: (provider) => faults.clear(provider),
    },
    calls,
    tokens: {
      shopify: (shop) => shopify.tokenFor(shop),
      stripe: (account) => stripe.keyFor(account),
      issue: (provider, account) => tokens.issue(provider, account),
      authCode: (provider, account, details = {}) =>
        tokens.createCode(provider, account, {
          ...(details.codeChallenge !== undefined && { codeChallenge: details.codeChallenge, codeChallengeMethod: 'S256' }),
          ...(details.redirectUri !== undefined && { redirectUri: details.redirectUri }),
        }),
      expire: (provider, account) => tokens.expireAccess(provider, account),
      liveRefreshTokens: (provider, account) => tokens.liveRefreshTokens(provider, account),
      setAccessTtl: (provider, seconds) => {
        tokens.accessTtl[provider] = seconds;
      },
    },
    credentials: { etsy: etsy.credentials, tiktok: tiktok.credentials },
    accounts: {
      etsyUserId: (shop) => Number(etsy.tokenPrefix(shop).slice(0, -1)),
      tiktokShopCipher: (shop) => tiktok.cipherFor(shop),
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
