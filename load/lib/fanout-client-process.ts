import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StreamMessage } from '../../src/contracts/api/streams.js';
import type { AckResponse } from '../../src/contracts/socket/contracts.js';
import { userUpdateNames, type UserUpdateMessage } from '../../src/contracts/socket/user-updates.js';
import { sleep } from './child-process.js';
import { BENCH_EVENT_TYPE, TIMELINE_BUCKET_MS, type BenchPayload, type ConnectResult, type ConnectTask, type FleetHealth, type FromChild, type ToChild } from './fanout-protocol.js';
import { MsHistogram } from './ms-histogram.js';
import { ConnectRefusedError, WireSocket } from './socketio-wire.js';

/**
 * One process of the client fleet (forked by `ClientFleet`): opens its share of the connections,
 * times every `stream:message` (or, for the engine benchmark, every bench `activity:recorded`)
 * they receive, and keeps only aggregates, which it streams to the
 * parent over IPC (receipts per broadcast every 50 ms, histograms and timelines on request).
 */

export const fleetChildScript = fileURLToPath(import.meta.url);

/** The child side: its share of the connections, and the receipts they get. */
function runFleetChild(): void {
  const send = (message: FromChild) => process.send?.(message);
  const sockets: WireSocket[] = [];
  const phases = new Map<string, { receipts: number; send: MsHistogram; server: MsHistogram; timeline: Map<number, number>; firstAt: number; lastAt: number }>();
  const health: FleetHealth = { closedUnexpectedly: 0, sessionExpired: 0, otherEvents: 0, malformed: 0, userUpdates: 0, outOfOrder: 0 };
  let fresh = new Map<number, number>();
  let closing = false;

  const record = (receipt: Receipt) => {
    const now = Date.now();
    let phase = phases.get(receipt.phase);
    if (!phase) {
      phase = { receipts: 0, send: new MsHistogram(), server: new MsHistogram(), timeline: new Map(), firstAt: now, lastAt: now };
      phases.set(receipt.phase, phase);
    }
    phase.receipts += 1;
    phase.lastAt = now;
    phase.send.add(now - receipt.sentAt);
    phase.server.add(now - receipt.serverAt);
    const bucket = now - (now % TIMELINE_BUCKET_MS);
    phase.timeline.set(bucket, (phase.timeline.get(bucket) ?? 0) + 1);
    fresh.set(receipt.seq, (fresh.get(receipt.seq) ?? 0) + 1);
  };

  const untimed = (name: string) => {
    health.otherEvents += 1;
    if (name === 'session:expired') health.sessionExpired += 1;
  };

  const onStreamEvent = (name: string, args: unknown[]) => {
    if (name !== 'stream:message') return untimed(name);
    const receipt = streamReceipt(args[0]);
    if (receipt) record(receipt);
    else health.malformed += 1;
  };

  /** One per socket: the seq of the last user update it received. */
  const onUpdateEvent = (socket: { lastSeq?: number }) => (name: string, args: unknown[]) => {
    if (!USER_UPDATE_NAMES.has(name)) return untimed(name);
    health.userUpdates += 1;
    const data = args[0] as { seq?: unknown } | undefined;
    const seq = typeof data?.seq === 'number' ? data.seq : undefined;
    if (seq === undefined || (socket.lastSeq !== undefined && seq !== socket.lastSeq + 1)) health.outOfOrder += 1;
    socket.lastSeq = seq;
    if (name !== 'activity:recorded') return;
    const receipt = activityReceipt(args[0]);
    if (receipt) record(receipt);
    else if (receipt === undefined) health.malformed += 1;
  };

  setInterval(() => {
    if (fresh.size === 0) return;
    send({ type: 'receipts', counts: [...fresh] });
    fresh = new Map();
  }, 50).unref();

  const connectAll = async (task: ConnectTask): Promise<ConnectResult> => {
    const started = performance.now();
    const result: ConnectResult = { attempted: task.count, connected: 0, ready: 0, failures: {}, elapsedMs: 0 };
    let failed = 0;
    const failure = (reason: string) => {
      failed += 1;
      result.failures[reason] = (result.failures[reason] ?? 0) + 1;
    };
    const openOne = async (index: number) => {
      const token = task.tokens?.[index % task.tokens.length];
      let socket: WireSocket;
      try {
        socket = await WireSocket.open({
          baseUrl: task.baseUrl,
          protocol: task.protocol,
          auth: token === undefined ? undefined : { token },
          timeoutMs: task.timeoutMs,
          onEvent: task.receipts === 'updates' ? onUpdateEvent({}) : onStreamEvent,
          onClose: () => {
            if (!closing) health.closedUnexpectedly += 1;
          },
        });
      } catch (error) {
        failure(failureReason(error));
        return;
      }
      sockets.push(socket);
      result.connected += 1;
      if (task.room === undefined) {
        result.ready += 1;
        return;
      }
      try {
        const ack = (await socket.emitWithAck('subscribe', { room: task.room }, task.timeoutMs)) as AckResponse<{ room: string }>;
        if (ack.ok) result.ready += 1;
        else failure(`subscribe refused ${ack.error.code}`);
      } catch {
        failure('subscribe without ack');
      }
    };
    let next = 0;
    const lane = async () => {
      while (next < task.count) await openOne(task.first + next++);
    };
    const progress = setInterval(() => send({ type: 'progress', connected: result.connected, failed }), 1_000);
    try {
      await Promise.all(Array.from({ length: Math.min(task.concurrency, task.count) }, lane));
    } finally {
      clearInterval(progress);
    }
    send({ type: 'progress', connected: result.connected, failed });
    return { ...result, elapsedMs: performance.now() - started };
  };

  const closeAll = async () => {
    closing = true;
    for (const socket of sockets) socket.close();
    // The closing handshakes need the loop for a moment; then go, whatever is left.
    await sleep(1_000);
    process.exit(0);
  };

  process.on('message', (raw: unknown) => {
    const message = raw as ToChild;
    switch (message.type) {
      case 'connect':
        void connectAll(message.task).then((result) => send({ type: 'connected', result }));
        return;
      case 'report': {
        const phase = phases.get(message.phase);
        send({
          type: 'report',
          id: message.id,
          health,
          phase: phase
            ? {
                receipts: phase.receipts,
                sendLatency: phase.send.entries(),
                serverLatency: phase.server.entries(),
                timeline: [...phase.timeline],
                firstAt: phase.firstAt,
                lastAt: phase.lastAt,
              }
            : { receipts: 0, sendLatency: [], serverLatency: [], timeline: [], firstAt: 0, lastAt: 0 },
        });
        return;
      }
      case 'close':
        void closeAll();
        return;
    }
  });
  // The benchmark is gone (even killed): nothing left to measure for.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

interface Receipt {
  phase: string;
  seq: number;
  sentAt: number;
  serverAt: number;
}

const USER_UPDATE_NAMES: ReadonlySet<string> = new Set(userUpdateNames);

function streamReceipt(raw: unknown): Receipt | undefined {
  const message = raw as StreamMessage | undefined;
  const data = message?.data as Partial<BenchPayload> | undefined;
  if (!message || typeof data?.phase !== 'string' || typeof data.seq !== 'number' || typeof data.sentAt !== 'number') return undefined;
  return { phase: data.phase, seq: data.seq, sentAt: data.sentAt, serverAt: Date.parse(message.at) };
}

/** A bench event's activity; null for an event that is not the benchmark's (nothing to time, nothing wrong). */
function activityReceipt(raw: unknown): Receipt | null | undefined {
  const update = raw as Partial<UserUpdateMessage<'activity:recorded'>> | undefined;
  if (typeof update?.type !== 'string' || typeof update.occurredAt !== 'string' || typeof update.at !== 'string') return undefined;
  const phase = BENCH_EVENT_TYPE.exec(update.type)?.[1];
  if (phase === undefined) return null;
  return { phase: `p${phase}`, seq: Number(phase), sentAt: Date.parse(update.occurredAt), serverAt: Date.parse(update.at) };
}

function failureReason(error: unknown): string {
  if (error instanceof ConnectRefusedError) return `connect_error ${error.code}`;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code) return `ws ${code}`;
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 60 ? `${message.slice(0, 57)}...` : message;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fleetChildScript && process.send) runFleetChild();
