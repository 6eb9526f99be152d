import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { z } from 'zod';
import type { acceptedEventSchema, EventInputBody } from '../contracts/api/events.js';
import type { FusedSignal } from '../contracts/api/signals.js';
import type { StreamMessage } from '../contracts/api/streams.js';
import type { AckResponse, ClientToServerEvents, DashboardMetrics, ServerToClientEvents } from '../contracts/socket/contracts.js';
import { userUpdateNames, type UserUpdateName } from '../contracts/socket/update-names.js';
import type { UserUpdate, UserUpdateMessage } from '../contracts/socket/user-updates.js';
import { SeqTracker } from './seq-tracker.js';

export interface PulseClientOptions {
  /** The hub, e.g. `https://pulse.example.com`. */
  baseUrl: string;
  /** A current access token for the user; called on every (re)connect and before expiry. */
  getToken: () => string | Promise<string>;
  /** The seq of the snapshot the app already shows; omitted, the client starts from the user's latest seq. */
  initialSeq?: number;
  /** Called when updates were missed beyond the hub's retention: reload state, return its seq. */
  loadSnapshot?: () => Promise<number>;
  /** How long before the token's expiry it is replaced (default 60 s). */
  refreshBeforeMs?: number;
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

type UserUpdateListeners = { [N in Exclude<UserUpdateName, 'signal:fused'>]: (update: UserUpdateMessage<N>) => void };
export interface PulseClientEvents extends UserUpdateListeners {
  /**
   * A signal's new fused value: the user's own signals as per-user updates (with `seq`, in order,
   * recovered after a reconnect), tenant-wide ones after `subscribe('signal:<key>')` (live only, no `seq`).
   */
  'signal:fused': (signal: FusedSignal | UserUpdateMessage<'signal:fused'>) => void;
  'stream:message': (message: StreamMessage) => void;
  'dashboard:metrics': (metrics: DashboardMetrics) => void;
  /** Updates were lost beyond retention and no `loadSnapshot` was given: reload state yourself. */
  'snapshot:required': (info: { seq: number }) => void;
  connected: (info: { recovered: boolean }) => void;
  disconnected: (info: { reason: string }) => void;
  error: (error: Error) => void;
}

export type AcceptedEvent = z.infer<typeof acceptedEventSchema>;

export class PulseClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PulseClientError';
  }
}

/** Seconds-since-epoch `exp` of a JWT, read without verifying (the hub verifies). */
function tokenExpiry(token: string): number | undefined {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const { exp } = JSON.parse(json) as { exp?: unknown };
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A typed Pulse Hub client: delivers each user update exactly once and in seq order, recovers
 * missed ones with `sync` after any reconnect Socket.IO could not recover itself, and keeps the
 * socket's token fresh.
 */
export class PulseClient {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private readonly listeners = new Map<keyof PulseClientEvents, Set<(...args: unknown[]) => void>>();
  private readonly seq: SeqTracker;
  private syncing: Promise<void> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private token: string | undefined;

  constructor(private readonly options: PulseClientOptions) {
    this.seq = new SeqTracker(options.initialSeq);
    this.socket = io(options.baseUrl, {
      transports: ['websocket'],
      ...options.socketOptions,
      // A function, so every reconnect presents a current token.
      auth: (cb) => {
        void this.freshToken().then(
          (token) => cb({ token }),
          (error: unknown) => this.emit('error', error as Error),
        );
      },
    });
    for (const name of userUpdateNames) {
      this.socket.on(name, (update: UserUpdateMessage) => {
        // A tenant-wide signal's value has no seq: it is not one of the user's updates.
        if (name === 'signal:fused' && typeof (update as { seq?: unknown }).seq !== 'number') this.emit('signal:fused', update as unknown as FusedSignal);
        else this.receive({ event: name, data: update } as UserUpdate);
      });
    }
    this.socket.on('stream:message', (message) => this.emit('stream:message', message));
    this.socket.on('dashboard:metrics', (metrics) => this.emit('dashboard:metrics', metrics));
    this.socket.on('connect', () => {
      this.emit('connected', { recovered: this.socket.recovered });
      // Recovered: Socket.IO replayed what was missed. Otherwise ask the hub.
      if (!this.socket.recovered || this.seq.lastSeq === undefined) void this.sync();
    });
    this.socket.on('disconnect', (reason) => this.emit('disconnected', { reason }));
    this.socket.on('session:expired', () => {
      // The hub drops this socket shortly; reconnect with a new token straight away.
      this.socket.disconnect().connect();
    });
  }

  get lastSeq(): number | undefined {
    return this.seq.lastSeq;
  }

  on<E extends keyof PulseClientEvents>(event: E, listener: PulseClientEvents[E]): () => void {
    const set = this.listeners.get(event) ?? new Set();
    const stored = listener as unknown as (...args: unknown[]) => void;
    set.add(stored);
    this.listeners.set(event, set);
    return () => set.delete(stored);
  }

  track(event: EventInputBody): Promise<AcceptedEvent> {
    return this.call('track', event).then((answer) => answer.accepted);
  }

  async subscribe(room: string): Promise<void> {
    await this.call('subscribe', { room });
  }

  async unsubscribe(room: string): Promise<void> {
    await this.call('unsubscribe', { room });
  }

  /** Authorised fetch against the hub's REST API. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${await this.freshToken()}`);
    return fetch(new URL(path, this.options.baseUrl), { ...init, headers });
  }

  close(): void {
    clearTimeout(this.refreshTimer);
    this.socket.close();
  }

  private async call<E extends keyof ClientToServerEvents>(event: E, payload: Parameters<ClientToServerEvents[E]>[0]) {
    const answer = (await (this.socket.emitWithAck as (event: E, payload: unknown) => Promise<unknown>)(event, payload)) as AckResponse<
      Parameters<Parameters<ClientToServerEvents[E]>[1]>[0] extends AckResponse<infer T> ? T : never
    >;
    if (!answer.ok) throw new PulseClientError(answer.error.code, answer.error.message);
    return answer;
  }

  private emit<E extends keyof PulseClientEvents>(event: E, ...args: Parameters<PulseClientEvents[E]>): void {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
  }

  private receive(update: UserUpdate): void {
    const verdict = this.seq.judge(update.data.seq);
    if (verdict === 'duplicate') return;
    if (verdict === 'gap') {
      void this.sync();
      return;
    }
    this.seq.advance(update.data.seq);
    (this.emit as (event: UserUpdateName, data: UserUpdateMessage) => void)(update.event, update.data);
  }

  /** Fetches what came after the last delivered seq; one sync at a time, another right after if asked meanwhile. */
  private sync(): Promise<void> {
    this.syncing ??= (async () => {
      try {
        const after = this.seq.lastSeq ?? Number.MAX_SAFE_INTEGER;
        const result = await this.call('sync', { after });
        if (this.seq.lastSeq === undefined) {
          this.seq.reset(result.seq);
        } else if (!result.complete) {
          if (this.options.loadSnapshot) this.seq.reset(await this.options.loadSnapshot());
          else {
            this.seq.reset(result.seq);
            this.emit('snapshot:required', { seq: result.seq });
          }
        } else {
          for (const update of result.updates) this.receive(update);
        }
      } catch (error) {
        this.emit('error', error as Error);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  /** A token valid for a while yet, replacing it (and the socket's) shortly before expiry. */
  private async freshToken(): Promise<string> {
    const refreshBefore = this.options.refreshBeforeMs ?? 60_000;
    const expiry = this.token ? tokenExpiry(this.token) : undefined;
    if (!this.token || (expiry !== undefined && expiry - Date.now() < refreshBefore)) {
      this.token = await this.options.getToken();
      this.scheduleRefresh(refreshBefore);
    }
    return this.token;
  }

  private scheduleRefresh(refreshBefore: number): void {
    clearTimeout(this.refreshTimer);
    const expiry = this.token ? tokenExpiry(this.token) : undefined;
    if (expiry === undefined) return;
    this.refreshTimer = setTimeout(
      () => {
        this.token = undefined;
        void this.freshToken()
          .then((token) => (this.socket.connected ? this.call('auth:refresh', { token }) : undefined))
          .catch((error: unknown) => this.emit('error', error as Error));
      },
      Math.max(expiry - Date.now() - refreshBefore, 0),
    );
  }
}

export function createPulseClient(options: PulseClientOptions): PulseClient {
  return new PulseClient(options);
}
