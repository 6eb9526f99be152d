import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from './pulse-process.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a backup command: a clean shell plus the given variables (inherited DATABASE_URL never leaks in). */
export async function backupCliEnv(env: Record<string, string>): Promise<Record<string, string>> {
  const { PATH = '/usr/bin:/bin', HOME = '/root' } = process.env;
  return {
    PATH,
    HOME,
    NODE_ENV: 'test',
    LOG_FORMAT: 'json',
    DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'pulse-backup-cli-')),
    ...env,
  };
}

const commandLine = (script: string, args: string[]) => [process.execPath, '--import', 'tsx', path.join('src/roles/cli', `${script}.ts`), ...args];

function finish(resolve: (result: CliResult) => void) {
  return (error: Error | null, stdout: string, stderr: string) => {
    const exitCode = (error as { code?: unknown } | null)?.code;
    const code = error ? (typeof exitCode === 'number' ? exitCode : 1) : 0;
    resolve({ code, stdout, stderr });
  };
}

/** Runs a backup command with its output piped (not a terminal). */
export function runCli(script: 'backup' | 'backup-list' | 'backup-verify' | 'restore', args: string[], env: Record<string, string>): Promise<CliResult> {
  const [command, ...rest] = commandLine(script, args) as [string, ...string[]];
  return new Promise((resolve) => execFile(command, rest, { cwd: projectRoot, env, maxBuffer: 16 * 1024 * 1024 }, finish(resolve)));
}

/** Runs a backup command in a pseudo-terminal (util-linux `script`), as a person at a terminal would; stdout is what the terminal showed. */
export function runCliInTerminal(script: 'backup' | 'restore', args: string[], env: Record<string, string>): Promise<CliResult> {
  const line = commandLine(script, args).map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve) => execFile('script', ['-qfec', line, '/dev/null'], { cwd: projectRoot, env, maxBuffer: 16 * 1024 * 1024 }, finish(resolve)));
}
