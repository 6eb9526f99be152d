import { errorFields, type Logger } from './logger.js';

interface Step {
  name: string;
  /** Receives the milliseconds left before the whole shutdown gives up. */
  run: (remainingMs: number) => Promise<void>;
}

/**
 * Ordered shutdown: steps run in reverse order of registration, like deferred calls, so whatever
 * was started last (the HTTP listener) stops first and what everything needs (pools, local
 * servers) stops last. The first signal starts it; see installSignalHandlers for repeated ones.
 */
export class Lifecycle {
  private readonly steps: Step[] = [];
  private shuttingDown: Promise<number> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  defer(name: string, run: Step['run']): void {
    this.steps.push({ name, run });
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown !== undefined;
  }

  /** Resolves to the exit code: 0 when every step finished in time, 1 otherwise. */
  shutdown(reason: string): Promise<number> {
    this.shuttingDown ??= this.runSteps(reason);
    return this.shuttingDown;
  }

  private async runSteps(reason: string): Promise<number> {
    const deadline = Date.now() + this.timeoutMs;
    this.logger.info('shutting down', { reason, timeoutMs: this.timeoutMs });
    let exitCode = 0;
    for (const step of [...this.steps].reverse()) {
      const remainingMs = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), Math.max(remainingMs, 0))));
      try {
        const outcome = await Promise.race([step.run(remainingMs).then(() => 'done' as const), expired]);
        if (outcome === 'expired') {
          this.logger.error('shutdown deadline exceeded', { step: step.name, timeoutMs: this.timeoutMs });
          return 1;
        }
      } catch (error) {
        exitCode = 1;
        this.logger.error('shutdown step failed', { step: step.name, ...errorFields(error) });
      } finally {
        clearTimeout(timer);
      }
    }
    this.logger.info('shutdown complete', { exitCode });
    return exitCode;
  }

  /**
   * SIGTERM, SIGINT and SIGHUP (a closed terminal) all start the ordered shutdown. Further signals
   * are ignored for `forceAfterMs` (see {@link SignalPolicy}); only a signal after that forces exit
   * 130. With `watchParent`, the process also shuts down when its parent goes away without
   * passing a signal on (npm dies of SIGHUP without forwarding it, leaving us orphaned).
   */
  installSignalHandlers(options: SignalHandlerOptions = {}): void {
    const exit = options.exit ?? ((code: number) => process.exit(code));
    const policy = new SignalPolicy(options.forceAfterMs ?? FORCE_EXIT_AFTER_MS);
    const onSignal = (signal: NodeJS.Signals) => {
      const action = policy.receive();
      if (action === 'shutdown') {
        void this.shutdown(signal).then(exit);
      } else if (action === 'force') {
        this.logger.warn('signal repeated while shutting down: exiting immediately', { signal });
        exit(130);
      } else {
        this.logger.info('already shutting down; ignoring a repeated signal', { signal, forceAfterMs: policy.forceAfterMs });
      }
    };
    for (const signal of shutdownSignals) process.on(signal, onSignal);
    if (options.watchParent) {
      const parent = process.ppid;
      const timer = setInterval(() => {
        if (process.ppid === parent) return;
        clearInterval(timer);
        // Counted like a first signal, so a real one arriving later gets the same grace period.
        if (policy.receive() !== 'shutdown') return;
        this.logger.warn('parent process exited without passing on a signal; shutting down', { parent });
        void this.shutdown('parent exited').then(exit);
      }, options.watchParentMs ?? 500);
      timer.unref();
    }
    // Once the terminal is gone, writing a log line fails with EPIPE/EIO; that must not turn a
    // clean shutdown into an uncaught exception.
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE' && error.code !== 'EIO') throw error;
      });
    }
    process.on('uncaughtException', (error) => {
      this.logger.error('uncaught exception', errorFields(error));
      void this.shutdown('uncaughtException').then(() => exit(1));
    });
    // A promise nobody awaited failed: one request's or job's work was lost, and that is logged,
    // but the process state is intact, so it keeps serving everyone else. An uncaught exception
    // may have left anything half-done, so that one still shuts the process down.
    process.on('unhandledRejection', (error) => {
      this.logger.error('unhandled promise rejection (process keeps serving)', errorFields(error));
    });
  }
}

export const shutdownSignals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

/**
 * How long after the first signal a further one is still taken as the same request to stop.
 * One stop request often arrives twice within milliseconds: `kill -TERM -<pgid>` reaches the hub
 * directly and again through npm, which forwards it; Ctrl-C reaches the whole foreground group
 * the same way; closing a terminal sends SIGHUP and then our parent's exit. Only a person
 * pressing Ctrl-C again after a few seconds means "stop waiting for the drain".
 */
export const FORCE_EXIT_AFTER_MS = 3_000;

export interface SignalHandlerOptions {
  exit?: (code: number) => never;
  forceAfterMs?: number;
  /** Shut down when the parent process exits (set by the npm scripts: `--exit-with-parent`). */
  watchParent?: boolean;
  watchParentMs?: number;
}

export type SignalAction = 'shutdown' | 'ignore' | 'force';

/** The first signal shuts down; repeats are ignored until `forceAfterMs` has passed, then force exit. */
export class SignalPolicy {
  private firstAt: number | undefined;

  constructor(
    readonly forceAfterMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  receive(): SignalAction {
    const now = this.now();
    if (this.firstAt === undefined) {
      this.firstAt = now;
      return 'shutdown';
    }
    return now - this.firstAt >= this.forceAfterMs ? 'force' : 'ignore';
  }
}
