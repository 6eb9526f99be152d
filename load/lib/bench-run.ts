import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/**
 * What a benchmark's entry point needs around its measurements: a time budget and Ctrl-C that
 * abort the run (so `finally` blocks stop what was started), last-resort stops for a hard exit,
 * the machine description printed and saved with the figures, and the results file.
 */

/** A usage mistake: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** The command line's flags (`--help`/`-h` prints `usage` and exits). */
export function parseFlags<T extends ParseArgsOptionsConfig>(options: T, usage: string) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs({ options, args }).values;
  } catch (error) {
    // Unknown options, missing values: a usage mistake, not a crash.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export class RunGuard {
  private readonly controller = new AbortController();
  private readonly lastResorts = new Set<() => void>();
  private interrupts = 0;

  constructor(private readonly log: (message: string) => void) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** First SIGINT/SIGTERM aborts the run, the second exits at once; past `budgetSeconds` the run aborts too. */
  arm(budgetSeconds: number, graceAfterAbortMs = 90_000): void {
    const interrupt = (name: NodeJS.Signals) => {
      this.interrupts += 1;
      if (this.interrupts > 1) this.exitNow(130);
      this.log(`${name}: stopping (again to exit at once)`);
      this.controller.abort(new Error(`interrupted by ${name}`));
    };
    for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, interrupt);
    process.on('uncaughtException', (error) => {
      this.log(`unexpected error, stopping: ${error.stack ?? error.message}`);
      this.controller.abort(error);
    });
    const budget = setTimeout(() => this.controller.abort(new Error(`the benchmark exceeded its ${budgetSeconds} s budget`)), budgetSeconds * 1000);
    budget.unref();
    // If unwinding hangs after an abort, leave anyway (running the last resorts).
    this.signal.addEventListener('abort', () => setTimeout(() => this.exitNow(1), graceAfterAbortMs).unref(), { once: true });
  }

  /** Registers a synchronous stop for hard exits; call the returned function once it is no longer needed. */
  lastResort(stop: () => void): () => void {
    this.lastResorts.add(stop);
    return () => this.lastResorts.delete(stop);
  }

  runLastResorts(): void {
    for (const stop of this.lastResorts) stop();
    this.lastResorts.clear();
  }

  exitNow(code: number): never {
    this.runLastResorts();
    process.exit(code);
  }
}

/** Sends `signal` to `pid`, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

export function machine() {
  return { platform: os.platform(), release: os.release(), cores: os.availableParallelism(), cpu: os.cpus()[0]?.model.trim() ?? null };
}

export function describeMachine(): string {
  const { platform, release, cores, cpu } = machine();
  return `node ${process.version}, ${cores} cores (${cpu ?? 'unknown CPU'}), ${platform} ${release}`;
}

/** Writes the results as JSON and returns the path to print (relative when under the working directory). */
export async function writeResults(file: string, results: object): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}

/**
 * Runs `main` as the entry point: its exit code, 2 with the usage for a UsageError, 1 for anything
 * else; then the last resorts, and an exit soon after even if a stuck handle would keep the process up.
 */
export async function runBenchmark(name: string, usage: string, guard: RunGuard, main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (error) {
    const usageError = error instanceof UsageError;
    console.error(usageError ? `${error.message}\n\n${usage}` : `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = usageError ? 2 : 1;
  } finally {
    guard.runLastResorts();
    setTimeout(() => process.exit(), 2_000).unref();
  }
}
