import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessRole } from '../../src/roles/boot.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

type LogLine = Record<string, unknown> & { message?: string };

/** Only what a clean shell has: inherited DATABASE_URL/REDIS_URL must never leak into a test. */
function baseEnv(): Record<string, string> {
  const { PATH = '/usr/bin:/bin', HOME = '/root' } = process.env;
  return { PATH, HOME };
}

/** A real Pulse Hub process (`src/roles/main.ts` or a CLI script) whose JSON log lines the test can wait for. */
export class PulseProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    script: string,
    args: string[],
    env: Record<string, string>,
    spawnAs: { command: string; args: string[]; cwd?: string; detached?: boolean } = {
      command: process.execPath,
      args: ['--import', 'tsx', path.join(projectRoot, script), ...args],
    },
  ) {
    this.child = spawn(spawnAs.command, spawnAs.args, {
      cwd: spawnAs.cwd ?? projectRoot,
      env: { ...baseEnv(), LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: spawnAs.detached ?? false,
    });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ message: line });
        }
      }
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  static start(role: ProcessRole, env: Record<string, string>): PulseProcess {
    return new PulseProcess('src/roles/main.ts', [role], env);
  }

  /**
   * `npm run <script>` exactly as a person or a process manager runs it (npm → sh → node), in
   * its own process group (`group()` signals all of it, like a terminal or `kill -- -<pgid>`).
   */
  static npm(script: 'start' | 'start:hub' | 'start:worker', env: Record<string, string>, cwd = projectRoot): PulseProcess {
    const quiet = { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
    return new PulseProcess('', [], { ...quiet, ...env }, { command: 'npm', args: ['run', script], cwd, detached: true });
  }

  /** Sends a signal to the process group this process leads (spawned by `npm()`). */
  signalGroup(signal: NodeJS.Signals): void {
    process.kill(-(this.child.pid as number), signal);
  }

  /** Pids of this process's direct children (for npm: the hub it started). */
  childPids(): number[] {
    const out = spawnSync('ps', ['-o', 'pid=', '--ppid', String(this.child.pid)], { encoding: 'utf8' }).stdout;
    return out.split('\n').map((line) => Number(line.trim())).filter((pid) => pid > 0);
  }

  async waitForLog(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found) return found;
      if (this.child.exitCode !== null) {
        throw new Error(`process exited (${this.child.exitCode}) before the expected log line; stderr: ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for a log line; got: ${JSON.stringify(this.logs.slice(-5))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves with the base URL the hub printed once it listens. */
  async listeningUrl(timeoutMs?: number): Promise<string> {
    const line = await this.waitForLog((entry) => typeof entry.url === 'string' && String(entry.message).includes('listening'), timeoutMs);
    return String(line.url).replace('localhost', '127.0.0.1');
  }

  async exit(timeoutMs = 30_000) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }
}
