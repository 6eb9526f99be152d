import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: where `src/` lives and where `--import tsx` resolves from. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Only what a clean shell has, so a DATABASE_URL or REDIS_URL in the caller's shell never leaks into a benchmarked process. */
export function cleanEnv(): Record<string, string> {
  const { PATH = '/usr/local/bin:/usr/bin:/bin', HOME = '/root' } = process.env;
  return { PATH, HOME };
}

export interface NodeChildOptions {
  /** Script path relative to the repository root, run through tsx. */
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** Flags for node itself (`--cpu-prof`, ...), placed before the script. */
  nodeArgs?: string[];
  /**
   * Own process group, so a Ctrl-C at the terminal reaches only the benchmark, which then stops
   * the child once: a hub that got SIGINT from the terminal and then SIGTERM from us would take
   * the second signal as "exit now" and leave its local servers running.
   */
  detached?: boolean;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How many output lines to keep for error reports. */
  keepLines?: number;
}

/** A Node process running one of the repository's TypeScript entry points, with its output kept for diagnosis. */
export class NodeChild {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  private readonly tail: string[] = [];
  private exitStatus: ExitStatus | undefined;

  constructor(private readonly options: NodeChildOptions) {
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', options.script, ...(options.args ?? [])], {
      cwd: repoRoot,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve((this.exitStatus = { code, signal })));
      // Without a listener, a child that cannot be spawned would crash the benchmark instead of failing its start.
      this.child.on('error', (error) => {
        this.remember(`[spawn] ${error.message}`);
        if (this.child.pid === undefined) resolve((this.exitStatus = { code: null, signal: null }));
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = this.child[stream];
      if (!source) continue;
      createInterface({ input: source, crlfDelay: Infinity }).on('line', (line) => {
        this.remember(line);
        options.onLine?.(line, stream);
      });
    }
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > (this.options.keepLines ?? 40)) this.tail.shift();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get status(): ExitStatus | undefined {
    return this.exitStatus;
  }

  recentOutput(): string {
    return this.tail.map((line) => `    ${line}`).join('\n');
  }

  /** Waits for the exit, at most `timeoutMs`; resolves to undefined when the process is still running. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus | undefined> {
    if (this.exitStatus) return this.exitStatus;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([this.exited, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `signal`, then SIGKILL after `graceMs`; `killed` says whether the hard kill was needed. */
  async stop(graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus & { killed: boolean }> {
    if (this.exitStatus) return { ...this.exitStatus, killed: false };
    this.child.kill(signal);
    const status = await this.waitForExit(graceMs);
    if (status) return { ...status, killed: false };
    this.child.kill('SIGKILL');
    return { ...((await this.waitForExit(5_000)) ?? { code: null, signal: 'SIGKILL' }), killed: true };
  }
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}
