import { setTimeout as sleep } from 'node:timers/promises';
import { BrokenCircuitError } from 'cockatiel';
import type { SyncProgress, SyncRunFigures } from '../../contracts/api/connections.js';
import { throttleDelayMs } from '../../domain/retry-after.js';
import { CredentialDecryptError } from '../../platform/credential-vault.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { SyncConnection, SyncRuns } from '../../repositories/sync-runs.js';
import type { SyncTelemetry } from '../../repositories/sync-telemetry.js';
import type { ConnectionService } from './connections.js';
import { TokenRefreshError } from './errors.js';
import type { ProviderCircuits } from './provider-circuits.js';
import { endpointsFor, providerFor } from './providers/index.js';
import { ProviderAuthError, ProviderRateLimitError, ProviderResponseError, type ProviderAuth, type ProviderCall, type RemotePage } from './providers/sync-types.js';
import type { TokenRefreshService } from './token-refresh.js';

export interface SyncRunnerOptions {
  pageSize: number;
  backfillDays: number;
  /** Retry-After handling: the provider's delay (or `defaultMs` without one), capped at `capMs`, plus up to `jitterRatio` of it. */
  throttle: { defaultMs: number; capMs: number; jitterRatio: number };
  now?: () => number;
  random?: () => number;
}

/** How a sync job ended, for the job handler to tell BullMQ. */
export type SyncOutcome =
  | { kind: 'completed'; run: SyncRunFigures }
  /** Throttled: no call before `waitMs` from now; the job goes back to the queue without using an attempt. */
  | { kind: 'rate_limited'; waitMs: number }
  /** Another run holds the connection: this job tries again later. */
  | { kind: 'busy' }
  /** Nothing to do: the connection is gone, or not active. */
  | { kind: 'skipped'; reason: 'not_found' | 'not_active' };

/** The sync failed in a way a retry cannot fix (refused credentials, an answer we cannot read): the job should not be retried. */
export class PermanentSyncError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentSyncError';
  }
}

export interface SyncRunnerDeps {
  runs: SyncRuns;
  connections: ConnectionService;
  tokens: TokenRefreshService;
  circuits: ProviderCircuits;
  telemetry: SyncTelemetry;
  /** Tells the tenant's dashboard (must not throw; a lost progress message loses nothing). */
  publish(tenantId: string, progress: SyncProgress): Promise<void>;
  logger: Logger;
}

const emptyRun = (): SyncRunFigures => ({ pages: 0, records: 0, events: 0, unmatched: 0, durationMs: 0 });

/**
 * One sync of one connection, page by page: each page is fetched through the provider's circuit
 * (retries with backoff on 5xx and timeouts), then stored in one transaction with its events and
 * the checkpoint, so a run stopped anywhere resumes after its last stored page. A provider's
 * throttle ends the attempt (`rate_limited`) for the queue to wait out.
 */
export class SyncRunner {
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    private readonly deps: SyncRunnerDeps,
    private readonly options: SyncRunnerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  async run(connectionId: string, jobId: string): Promise<SyncOutcome> {
    const claimed = await this.deps.runs.claim(connectionId, jobId);
    if (claimed === 'busy') return { kind: 'busy' };
    if (typeof claimed === 'string') return { kind: 'skipped', reason: claimed };
    const connection = claimed;
    const started = this.now();
    let run = emptyRun();
    const figures = () => ({ ...run, durationMs: this.now() - started });
    // Throttled while this job waited (another job of the account hit the limit): wait it out too.
    const throttledFor = (connection.rateLimitedUntil?.getTime() ?? 0) - this.now();
    if (throttledFor > 0) return this.rateLimited(connection, jobId, run, throttledFor);
    await this.progress(connection, 'running', run);
    let cursor = connection.cursor;
    let rejectedToken: string | undefined;
    for (;;) {
      let page: RemotePage;
      let auth: ProviderAuth | undefined;
      try {
        auth = await this.auth(connection, rejectedToken);
        const request = this.request(connection, cursor, auth);
        page = await this.deps.circuits.run(connection.provider, (signal) => providerFor(connection.provider).sync.listPage({ ...request, signal }));
      } catch (error) {
        if (error instanceof ProviderRateLimitError) {
          await this.deps.telemetry.add(connection.provider, { rate_limited: 1 });
          return this.rateLimited(connection, jobId, run, throttleDelayMs(error.retryAfterMs, this.options.throttle, this.random));
        }
        // An OAuth token the provider refused although it should live (revoked, expired early): one forced refresh, then the page again.
        if (error instanceof ProviderAuthError && auth?.accessToken !== undefined && rejectedToken === undefined) {
          rejectedToken = auth.accessToken;
          continue;
        }
        throw await this.failed(connection, jobId, figures(), error);
      }
      rejectedToken = undefined;
      const stored = await this.deps.runs.storePage(connection, jobId, page.records, page.cursor, run);
      run = { ...run, pages: run.pages + 1, records: run.records + stored.records, events: run.events + stored.events, unmatched: run.unmatched + stored.unmatched };
      cursor = page.cursor;
      await this.deps.telemetry.add(connection.provider, { records: stored.records, events: stored.events });
      if (page.done) break;
      await this.progress(connection, 'running', run);
      if (page.pauseMs && page.pauseMs > 0) {
        await this.deps.runs.heartbeat(connection.id, jobId);
        await sleep(page.pauseMs);
      }
    }
    const done = figures();
    await this.deps.runs.finish(connection.id, jobId, { run: done });
    await this.deps.telemetry.add(connection.provider, { runs: 1, duration_ms: done.durationMs });
    await this.progress(connection, 'completed', done);
    return { kind: 'completed', run: done };
  }

  private request(connection: SyncConnection, cursor: Record<string, unknown>, auth: ProviderAuth) {
    const settings = connection.settings;
    const since = settings.backfillFrom ? new Date(`${settings.backfillFrom}T00:00:00Z`) : new Date(this.now() - this.options.backfillDays * 86_400_000);
    return {
      endpoints: endpointsFor(connection.provider, settings),
      settings: connection.settings as never,
      auth,
      cursor,
      since,
      pageSize: this.options.pageSize,
      observe: (call: ProviderCall) => {
        const failed = call.status === 'timeout' || call.status === 'network' || call.status >= 500;
        void this.deps.telemetry.add(call.provider, { calls: 1, errors: failed ? 1 : 0 }).catch(() => undefined);
      },
    };
  }

  /** The secrets the provider's calls need: the API key, or a fresh access token (single-flight refresh) with the app's id and secret. */
  private async auth(connection: SyncConnection, rejectedToken: string | undefined): Promise<ProviderAuth> {
    const opened = await this.deps.connections.openCredentials(connection.id, ['api_key', 'client_id', 'client_secret']);
    const auth: ProviderAuth = {};
    if (opened.api_key) auth.apiKey = opened.api_key.value;
    if (opened.client_id) auth.clientId = opened.client_id.value;
    if (opened.client_secret) auth.clientSecret = opened.client_secret.value;
    if (providerFor(connection.provider).oauth) auth.accessToken = await this.deps.tokens.freshAccessToken(connection.id, rejectedToken);
    return auth;
  }

  private async rateLimited(connection: SyncConnection, jobId: string, run: SyncRunFigures, delayMs: number): Promise<SyncOutcome> {
    // Whole milliseconds: BullMQ's rate limit is a Redis PEXPIRE.
    const waitMs = Math.ceil(delayMs);
    const until = new Date(this.now() + waitMs);
    // The lease is kept through the wait (its heartbeat moved to the end of it): no other run takes the connection meanwhile.
    await this.deps.runs.heartbeat(connection.id, jobId, 'rate_limited', until);
    await this.progress(connection, 'rate_limited', run, { rateLimitedUntil: until.toISOString() });
    this.deps.logger.info('provider throttled the sync; its queue waits', { connectionId: connection.id, provider: connection.provider, waitMs });
    return { kind: 'rate_limited', waitMs };
  }

  /**
   * Records why the run stopped and returns what the job should throw: a PermanentSyncError when
   * retrying cannot help (refused credentials: the connection needs re-authorization), else the error.
   */
  private async failed(connection: SyncConnection, jobId: string, run: SyncRunFigures, error: unknown): Promise<Error> {
    const message = describe(error);
    let status: 'needs_reauth' | 'broken' | undefined;
    // Refused credentials (an OAuth token refused again after a refresh, or a wrong API key): only an admin can fix them.
    if (error instanceof ProviderAuthError) status = 'needs_reauth';
    if (error instanceof TokenRefreshError && (error.reason === 'needs_reauth' || error.reason === 'broken')) status = error.reason;
    if (error instanceof CredentialDecryptError) status = 'broken';
    await this.deps.runs.finish(connection.id, jobId, { run, error: message, ...(status ? { status } : {}) });
    await this.deps.telemetry.add(connection.provider, { runs: 1, duration_ms: run.durationMs });
    await this.progress(connection, status ?? 'failed', run, { error: message });
    this.deps.logger.warn('sync failed', { connectionId: connection.id, provider: connection.provider, ...errorFields(error) });
    const permanent = status !== undefined || error instanceof ProviderResponseError || (error instanceof TokenRefreshError && error.reason !== 'backoff' && error.reason !== 'refresh_failed');
    return permanent ? new PermanentSyncError(message, { cause: error }) : error instanceof Error ? error : new Error(message);
  }

  private async progress(connection: SyncConnection, state: SyncProgress['state'], run: SyncRunFigures, extra: Partial<SyncProgress> = {}): Promise<void> {
    const progress: SyncProgress = {
      connectionId: connection.id,
      provider: connection.provider,
      state,
      pages: run.pages,
      records: run.records,
      events: run.events,
      unmatched: run.unmatched,
      circuit: this.deps.circuits.state(connection.provider),
      at: new Date(this.now()).toISOString(),
      ...extra,
    };
    try {
      await this.deps.publish(connection.tenantId, progress);
    } catch (error) {
      this.deps.logger.warn('sync progress not published', { connectionId: connection.id, ...errorFields(error) });
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof BrokenCircuitError) return 'the provider’s circuit is open after repeated failures; syncs fail fast until it recovers';
  return error instanceof Error ? error.message : String(error);
}
