import { setTimeout as sleep } from 'node:timers/promises';
import type { AckResponse, SyncResult } from '../../src/contracts/socket/contracts.js';
import type { UserUpdateMessage } from '../../src/contracts/socket/user-updates.js';
import { mintTokens } from './api-client.js';
import { openSocket, type TestSocket } from './socket-client.js';

type Via = 'live' | 'sync';
interface Seen {
  event: string;
  eventId: string | undefined;
  via: Via;
}

const SYNC_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 3_000;

function connectWithin(socket: TestSocket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), ms);
    socket.once('connect', () => (clearTimeout(timer), resolve()));
    socket.once('connect_error', (error) => (clearTimeout(timer), reject(error)));
  });
}

/**
 * One user's app: a socket to a hub that records every `activity:recorded` update by seq, and,
 * like a real client, moves to another hub when its hub goes away and asks `sync` for what it
 * missed (everything after the last seq it holds without a gap).
 */
export class TrackedClient {
  readonly seen = new Map<number, Seen>();
  /** Live updates for a seq already held (a push handed over twice): harmless for a client, counted. */
  liveRepeats = 0;
  reconnects = 0;
  errors: string[] = [];
  private socket: TestSocket | undefined;
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  private syncs: Promise<void> = Promise.resolve();

  constructor(
    private readonly hubs: () => readonly string[],
    private readonly token: string,
    readonly userId: string,
    private hubIndex: number,
  ) {}

  /** The highest seq held with everything before it. */
  contiguous(): number {
    let seq = 0;
    while (this.seen.has(seq + 1)) seq += 1;
    return seq;
  }

  async connect(deadlineMs = 20_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (let attempt = 0; !this.closed; attempt += 1) {
      const hubs = this.hubs();
      const url = hubs[(this.hubIndex + attempt) % hubs.length] as string;
      const socket = openSocket(url, this.token);
      socket.on('activity:recorded', (update: UserUpdateMessage<'activity:recorded'>) => this.record(update.seq, 'activity:recorded', update.eventId, 'live'));
      try {
        await connectWithin(socket, CONNECT_TIMEOUT_MS);
      } catch (error) {
        socket.close();
        if (Date.now() > deadline) throw new Error(`user ${this.userId} could not connect to any hub`, { cause: error });
        await sleep(Math.min(100 * (attempt + 1), 500));
        continue;
      }
      this.hubIndex = (this.hubIndex + attempt) % hubs.length;
      this.socket = socket;
      socket.once('disconnect', (reason) => {
        if (this.closed || reason === 'io client disconnect') return;
        this.reconnects += 1;
        this.reconnecting = this.reconnect();
      });
      return;
    }
  }

  /** Another hub (the next in the list first), then `sync` from the last seq held. */
  private async reconnect(): Promise<void> {
    this.socket?.close();
    this.socket = undefined;
    this.hubIndex += 1;
    try {
      await this.connect();
      await this.sync();
    } catch (error) {
      const cause = (error as Error).cause;
      this.errors.push(`reconnect: ${(error as Error).message}${cause instanceof Error ? ` (${cause.message})` : ''}`);
    }
  }

  /** Asks for everything after the last seq held without a gap; serialised per client. */
  sync(): Promise<void> {
    this.syncs = this.syncs.then(async () => {
      for (;;) {
        const socket = this.socket;
        if (!socket) throw new Error('not connected');
        const after = this.contiguous();
        const result = (await socket.timeout(SYNC_TIMEOUT_MS).emitWithAck('sync', { after })) as AckResponse<SyncResult>;
        if (!result.ok) throw new Error(`sync refused: ${result.error.code} ${result.error.message}`);
        if (!result.complete) throw new Error(`sync after ${after} incomplete (latest ${result.seq})`);
        for (const update of result.updates) {
          const eventId = update.event === 'activity:recorded' ? update.data.eventId : undefined;
          this.record(update.data.seq, update.event, eventId, 'sync');
        }
        if (this.contiguous() >= result.seq) return;
      }
    });
    return this.syncs;
  }

  /** After the traffic: waits for a reconnect under way, then syncs what is still missing. */
  async catchUp(): Promise<void> {
    await this.reconnecting;
    if (!this.socket) await this.connect();
    await this.sync();
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }

  private record(seq: number, event: string, eventId: string | undefined, via: Via): void {
    if (this.seen.has(seq)) {
      if (via === 'live') this.liveRepeats += 1;
      return;
    }
    this.seen.set(seq, { event, eventId, via });
  }
}

export interface ClientTally {
  /** Distinct event ids whose activity update some client holds. */
  eventIds: Set<string>;
  /** Activity updates held, by whichever way they came. */
  updates: number;
  live: number;
  bySync: number;
  /** Event ids held under two different seqs of one user (stored twice): must stay 0. */
  doubled: number;
  liveRepeats: number;
  reconnects: number;
  errors: string[];
}

/** The apps of many users, spread over the hubs in turn. */
export class TrackedClients {
  private constructor(readonly clients: TrackedClient[]) {}

  static async open(hubs: () => readonly string[], apiKey: string, userIds: readonly string[]): Promise<TrackedClients> {
    const clients: TrackedClient[] = [];
    for (let i = 0; i < userIds.length; i += 25) {
      const chunk = userIds.slice(i, i + 25);
      const tokens = await Promise.all(chunk.map((userId) => mintTokens(hubs()[0] as string, apiKey, { userId })));
      clients.push(...tokens.map((pair, j) => new TrackedClient(hubs, pair.accessToken, pair.user.externalId, i + j)));
    }
    const group = new TrackedClients(clients);
    await Promise.all(clients.map((client) => client.connect()));
    return group;
  }

  /** After the traffic: every app syncs what it still misses. */
  async catchUpAll(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.catchUp()));
  }

  tally(): ClientTally {
    const tally: ClientTally = { eventIds: new Set(), updates: 0, live: 0, bySync: 0, doubled: 0, liveRepeats: 0, reconnects: 0, errors: [] };
    for (const client of this.clients) {
      const mine = new Set<string>();
      for (const seen of client.seen.values()) {
        if (seen.event !== 'activity:recorded' || seen.eventId === undefined) continue;
        tally.updates += 1;
        if (seen.via === 'live') tally.live += 1;
        else tally.bySync += 1;
        if (mine.has(seen.eventId)) tally.doubled += 1;
        mine.add(seen.eventId);
        tally.eventIds.add(seen.eventId);
      }
      tally.liveRepeats += client.liveRepeats;
      tally.reconnects += client.reconnects;
      tally.errors.push(...client.errors.map((error) => `${client.userId}: ${error}`));
    }
    return tally;
  }

  close(): void {
    for (const client of this.clients) client.close();
  }
}
