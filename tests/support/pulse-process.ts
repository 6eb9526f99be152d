import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessRole } from '../../src/shared/runtime/boot.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

type LogLine = Record<string, unknown> & { message?: string };

/** Only what a clean shell has: inherited DATABASE_URL/REDIS_URL must never leak into a test. */
function baseEnv(): Record<string, string> {
  const { PATH = '/usr/bin:/bin', HOME = '/root' } = process.env;
  return { PATH, HOME };
}

/** A real Pulse Hub process (`src/main.ts` or a CLI script) whose JSON log lines the test can wait for. */
export class PulseProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(script: string, args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, script), ...args], {
      cwd: projectRoot,
      env: { ...baseEnv(), LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
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
    return new PulseProcess('src/main.ts', [role], env);
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
