import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './child-process.js';

/**
 * What a benchmark's entry point needs around its measurements: a time budget and Ctrl-C that
 * abort the run (so `finally` blocks stop what was started), last-resort stops for a hard exit,
 * the machine description printed and saved with the figures, and the results file.
 */

/** A usage mistake: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/**
 * The one option parser of the benchmarks: `util.parseArgs` under a typed table that also gives
 * each option its range, default, environment fallback and help line, so `--help` is generated
 * and every bench refuses a bad value the same way.
 */
interface OptionBase {
  /** One line or more (`\n`) of help. */
  help: string;
  /** Read when the flag is absent (an empty value counts as absent). */
  env?: string;
}
export interface NumberOption extends OptionBase {
  type: 'number';
  /** Absent: the value is `undefined` when neither the flag nor `env` is given. */
  default?: number;
  min: number;
  max: number;
  /** Whole numbers only (the default). */
  whole?: boolean;
  arg?: string;
}
export interface StringOption<C extends string = string> extends OptionBase {
  type: 'string';
  default?: C;
  /** The only values accepted. */
  choices?: readonly C[];
  arg?: string;
}
export interface BooleanOption extends OptionBase {
  type: 'boolean';
}
export type OptionSpec = NumberOption | StringOption | BooleanOption;

type OptionValue<S> = S extends NumberOption
  ? S extends { default: number }
    ? number
    : number | undefined
  : S extends BooleanOption
    ? boolean
    : S extends StringOption<infer C>
      ? S extends { default: string }
        ? C
        : C | undefined
      : never;
/** `poison-rps` → `poisonRps`: options come back under camel-case names. */
type Camel<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;
export type OptionValues<T extends Record<string, OptionSpec>> = { -readonly [K in keyof T & string as Camel<K>]: OptionValue<T[K]> };

const camel = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** `--out`, common to every bench: where the results JSON goes. */
export const outOption = (defaultFile: string) =>
  ({ type: 'string', arg: '<file>', help: `results JSON (default load/results/${defaultFile})` }) as const satisfies StringOption;

export function usageText(command: string, options: Record<string, OptionSpec>, intro = ''): string {
  const heads = Object.entries(options).map(([name, spec]) => `  --${name}${spec.type === 'boolean' ? '' : ` ${spec.arg ?? (spec.type === 'number' ? '<n>' : '<value>')}`}`);
  const width = Math.max(...heads.map((head) => head.length)) + 2;
  const lines = Object.values(options).flatMap((spec, i) => {
    const head = heads[i] ?? '';
    const extra = [spec.env ? `env ${spec.env}` : '', spec.type !== 'boolean' && spec.default !== undefined ? `default ${String(spec.default)}` : '']
      .filter(Boolean)
      .join(', ');
    const help = `${spec.help}${extra ? ` (${extra})` : ''}`.split('\n');
    return help.map((text, j) => `${j === 0 ? head.padEnd(width) : ' '.repeat(width)}${text}`.trimEnd());
  });
  return [`Usage: ${command} -- [options]`, ...(intro ? ['', intro] : []), '', ...lines, '  -h, --help'].join('\n');
}

/** The command line (or `args`), checked against `options`, by camel-case name; `--help`/`-h` prints `usage` and exits. */
export function parseOptions<T extends Record<string, OptionSpec>>(options: T, usage: string, args = process.argv.slice(2), env = process.env): OptionValues<T> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage);
    process.exit(0);
  }
  const config = Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, { type: spec.type === 'boolean' ? 'boolean' : 'string' } as const]));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ options: config, args, strict: true }).values;
  } catch (error) {
    // Unknown options, missing values: a usage mistake, not a crash.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const parsed: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) {
    const fromEnv = spec.env ? env[spec.env] || undefined : undefined;
    const raw = values[name] ?? fromEnv;
    parsed[camel(name)] = optionValue(name, spec, raw);
  }
  return parsed as OptionValues<T>;
}

function optionValue(name: string, spec: OptionSpec, raw: string | boolean | undefined): unknown {
  if (spec.type === 'boolean') return typeof raw === 'string' ? ['1', 'true', 'yes'].includes(raw.toLowerCase()) : (raw ?? false);
  if (raw === undefined) return spec.default;
  const text = String(raw);
  if (spec.type === 'string') {
    if (spec.choices && !spec.choices.includes(text)) throw new UsageError(`--${name} must be ${spec.choices.map((c) => `"${c}"`).join(' or ')} (got "${text}")`);
    return text;
  }
  const value = Number(text);
  const whole = spec.whole ?? true;
  if (text.trim() === '' || !Number.isFinite(value) || (whole && !Number.isInteger(value)) || value < spec.min || value > spec.max) {
    throw new UsageError(`--${name} must be a ${whole ? 'whole ' : ''}number from ${spec.min} to ${spec.max} (got "${text}")`);
  }
  return value;
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

/** `load/results/<file>`: where results go unless `--out` says otherwise. */
export const resultsPath = (file: string) => path.join(repoRoot, 'load', 'results', file);

/** Where CPU profiles of the servers go (`--cpu-prof`). */
export const profileDir = resultsPath('profiles');

/**
 * The one report writer: the benchmark's name, the date and the machine, then its figures, as
 * JSON to `file` (made absolute; folders created); prints where it went, relative when under the
 * working directory.
 */
export async function writeReport(name: string, results: object, file: string): Promise<void> {
  const absolute = path.resolve(file);
  await mkdir(path.dirname(absolute), { recursive: true });
  const report = { benchmark: name, date: new Date().toISOString(), node: process.version, os: machine(), ...results };
  await writeFile(absolute, `${JSON.stringify(report, null, 2)}\n`);
  const relative = path.relative(process.cwd(), absolute);
  console.log(`\nResults written to ${relative.startsWith('..') ? absolute : relative}`);
}

/** The heading every bench prints first: its title, the date and the machine. */
export function printHeading(title: string, details: string): void {
  console.log(`Pulse Hub ${title} benchmark — ${new Date().toISOString()}`);
  console.log(`${describeMachine()}; ${details}`);
}

/** Progress lines go to stderr, so stdout holds the report alone. */
export const progress = (message: string): void => console.error(`[bench] ${message}`);

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
