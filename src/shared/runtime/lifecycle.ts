import { errorFields, type Logger } from '../logger.js';

interface Step {
  name: string;
  /** Receives the milliseconds left before the whole shutdown gives up. */
  run: (remainingMs: number) => Promise<void>;
}

/**
 * Ordered shutdown: steps run in reverse order of registration, like deferred calls, so whatever
 * was started last (the HTTP listener) stops first and what everything needs (pools, local
 * servers) stops last. The first signal starts it; a second one exits at once.
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

  installSignalHandlers(exit: (code: number) => never = (code) => process.exit(code)): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.isShuttingDown) {
        this.logger.warn('second signal: exiting immediately', { signal });
        exit(130);
      }
      void this.shutdown(signal).then(exit);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
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
