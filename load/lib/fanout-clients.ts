import { fork, type ChildProcess } from 'node:child_process';
import { cleanEnv, repoRoot, sleep } from './child-process.js';
import { fleetChildScript } from './fanout-client-process.js';
import type { ConnectPlan, ConnectResult, ConnectTask, FleetHealth, FromChild, ToChild } from './fanout-protocol.js';
import { MsHistogram } from './ms-histogram.js';

/**
 * A fleet of raw WebSocket clients spread over child processes (one event loop each), so that
 * thousands of subscribers cost the machine as little as possible and the server is what gets
 * measured. Each child times every `stream:message` it receives and keeps only aggregates
 * (millisecond histograms, receipts per 100 ms, receipts per broadcast), which it streams to the
 * parent: counts per broadcast every 50 ms, the rest on request.
 */

export interface PhaseReport {
  receipts: number;
  /** Publishing request sent (`data.sentAt`) → receipt. */
  sendLatency: MsHistogram;
  /** The server's `at` → receipt. */
  serverLatency: MsHistogram;
  /** Receipts per 100 ms of wall clock, keyed by the bucket's start (epoch ms). */
  timeline: Map<number, number>;
  firstAt: number;
  lastAt: number;
  health: FleetHealth;
}

type Reply<T extends FromChild['type']> = Extract<FromChild, { type: T }>;

/** Replies are matched by type, and reports also by request id, so that several can be outstanding. */
const replyKey = (message: FromChild): string => (message.type === 'report' ? `report#${message.id}` : message.type);

interface Member {
  child: ChildProcess;
  waiters: Map<string, (message: FromChild) => void>;
  progress: { connected: number; failed: number };
  exited: Promise<void>;
  alive: boolean;
}

export class ClientFleet {
  private readonly delivered = new Map<number, number>();
  private nextRequestId = 0;

  private constructor(private readonly members: Member[]) {
    for (const member of members) member.child.on('message', (raw) => this.onMessage(member, raw as FromChild));
  }

  static async start(options: { processes: number; startTimeoutMs?: number }): Promise<ClientFleet> {
    const members = Array.from({ length: options.processes }, (): Member => {
      const child = fork(fleetChildScript, [], {
        cwd: repoRoot,
        env: cleanEnv(),
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // Its own process group: a Ctrl-C reaches the benchmark only, which then closes the fleet.
        detached: true,
      });
      const member: Member = { child, waiters: new Map(), progress: { connected: 0, failed: 0 }, alive: true, exited: Promise.resolve() };
      member.exited = new Promise((resolve) => child.once('exit', () => resolve()));
      void member.exited.then(() => (member.alive = false));
      return member;
    });
    const fleet = new ClientFleet(members);
    try {
      await Promise.all(members.map((member) => fleet.waitFor(member, 'ready', options.startTimeoutMs ?? 30_000)));
    } catch (error) {
      fleet.kill();
      throw error;
    }
    return fleet;
  }

  get pids(): number[] {
    return this.members.map((member) => member.child.pid ?? -1).filter((pid) => pid > 0);
  }

  /** Receipts of broadcast `seq` so far, over the whole fleet (updated every 50 ms). */
  receipts(seq: number): number {
    return this.delivered.get(seq) ?? 0;
  }

  /** Splits the connections evenly over the children; `onProgress` gets the fleet's totals every second. */
  async connect(plan: ConnectPlan, onProgress?: (connected: number, failed: number) => void): Promise<ConnectResult> {
    const started = performance.now();
    const size = this.members.length;
    const concurrency = Math.max(1, Math.ceil(plan.concurrency / size));
    const timer = onProgress
      ? setInterval(() => {
          const sum = (pick: (member: Member) => number) => this.members.reduce((total, member) => total + pick(member), 0);
          onProgress(sum((member) => member.progress.connected), sum((member) => member.progress.failed));
        }, 1_000)
      : undefined;
    try {
      const { connections, ...common } = plan;
      const replies = await Promise.all(
        this.members.map((member, i) => {
          const first = Math.floor((connections * i) / size);
          const count = Math.floor((connections * (i + 1)) / size) - first;
          const task: ConnectTask = { ...common, concurrency, first, count };
          return this.ask(member, { type: 'connect', task }, 'connected', plan.timeoutMs * Math.ceil(count / concurrency + 1) + 30_000);
        }),
      );
      const failures: Record<string, number> = {};
      for (const { result } of replies) for (const [reason, count] of Object.entries(result.failures)) failures[reason] = (failures[reason] ?? 0) + count;
      const total = (key: 'attempted' | 'connected' | 'ready') => replies.reduce((sum, { result }) => sum + result[key], 0);
      return { attempted: total('attempted'), connected: total('connected'), ready: total('ready'), failures, elapsedMs: performance.now() - started };
    } finally {
      clearInterval(timer);
    }
  }

  /** Resolves true once every `seq` reached `expected` receipts, false at the timeout. */
  async waitForReceipts(seqs: readonly number[], expected: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (seqs.some((seq) => this.receipts(seq) < expected)) {
      if (Date.now() > deadline) return false;
      await sleep(20, signal);
    }
    return true;
  }

  /** What every child measured for `phase`, merged. */
  async report(phase: string): Promise<PhaseReport> {
    const id = this.nextRequestId++;
    const replies = await Promise.all(this.members.map((member) => this.ask(member, { type: 'report', id, phase }, 'report', 30_000, `report#${id}`)));
    const merged: PhaseReport = {
      receipts: 0,
      sendLatency: new MsHistogram(),
      serverLatency: new MsHistogram(),
      timeline: new Map(),
      firstAt: Number.POSITIVE_INFINITY,
      lastAt: Number.NEGATIVE_INFINITY,
      health: { closedUnexpectedly: 0, sessionExpired: 0, otherEvents: 0, malformed: 0, userUpdates: 0, outOfOrder: 0 },
    };
    for (const { phase: part, health } of replies) {
      merged.receipts += part.receipts;
      merged.sendLatency.merge(part.sendLatency);
      merged.serverLatency.merge(part.serverLatency);
      for (const [bucket, count] of part.timeline) merged.timeline.set(bucket, (merged.timeline.get(bucket) ?? 0) + count);
      if (part.receipts > 0) {
        merged.firstAt = Math.min(merged.firstAt, part.firstAt);
        merged.lastAt = Math.max(merged.lastAt, part.lastAt);
      }
      for (const key of Object.keys(health) as (keyof FleetHealth)[]) merged.health[key] += health[key];
    }
    return merged;
  }

  /** Closes every connection and ends the children; SIGKILL for any still running after `graceMs`. */
  async close(graceMs = 15_000): Promise<void> {
    for (const member of this.members) if (member.alive && member.child.connected) member.child.send({ type: 'close' } satisfies ToChild);
    const all = Promise.all(this.members.map((member) => member.exited));
    if ((await Promise.race([all.then(() => true), sleep(graceMs).then(() => false)])) === false) {
      this.kill();
      await Promise.race([all, sleep(5_000)]);
    }
  }

  /** At once and synchronously: for emergency exits. */
  kill(): void {
    for (const member of this.members) if (member.alive) member.child.kill('SIGKILL');
  }

  private onMessage(member: Member, message: FromChild): void {
    if (message.type === 'receipts') {
      for (const [seq, count] of message.counts) this.delivered.set(seq, (this.delivered.get(seq) ?? 0) + count);
      return;
    }
    if (message.type === 'progress') {
      member.progress = { connected: message.connected, failed: message.failed };
      return;
    }
    const key = replyKey(message);
    const waiter = member.waiters.get(key);
    member.waiters.delete(key);
    waiter?.(message);
  }

  private ask<T extends FromChild['type']>(member: Member, message: ToChild, reply: T, timeoutMs: number, key: string = reply): Promise<Reply<T>> {
    const answer = this.waitFor(member, reply, timeoutMs, key);
    member.child.send(message);
    return answer;
  }

  private waitFor<T extends FromChild['type']>(member: Member, reply: T, timeoutMs: number, key: string = reply): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
      };
      const timer = setTimeout(() => fail(new Error(`fleet child ${member.child.pid}: no "${reply}" within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error) => {
        if (settled) return;
        settle();
        member.waiters.delete(key);
        reject(error);
      };
      void member.exited.then(() => fail(new Error(`fleet child ${member.child.pid} exited while the benchmark waited for "${reply}"`)));
      member.waiters.set(key, (message) => {
        settle();
        resolve(message as Reply<T>);
      });
    });
  }
}
