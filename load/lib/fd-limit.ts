import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Open-file limits (Linux). Every socket is a file descriptor on each end, and the limit is per
 * process: what matters is that each server and each client process stays under its own soft
 * limit. Node cannot call setrlimit, but `prlimit --pid` can raise a running child's soft limit
 * up to the hard limit (and past it only with CAP_SYS_RESOURCE).
 */

export interface FdLimit {
  soft: number;
  hard: number;
}

/** This process's limit, which children inherit; undefined where /proc is missing. */
export async function readFdLimit(pid: number | 'self' = 'self'): Promise<FdLimit | undefined> {
  const text = await readFile(`/proc/${pid}/limits`, 'utf8').catch(() => '');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!match) return undefined;
  const value = (raw: string | undefined) => (raw === 'unlimited' ? Number.POSITIVE_INFINITY : Number(raw));
  return { soft: value(match[1]), hard: value(match[2]) };
}

/**
 * Raises `pid`'s soft limit to `wanted` (capped at the hard limit) when it is lower; resolves to
 * the soft limit the process ends up with.
 */
export async function raiseFdLimit(pid: number, wanted: number): Promise<number> {
  const limit = await readFdLimit(pid);
  if (!limit) return Number.NaN;
  if (limit.soft >= wanted) return limit.soft;
  const target = Math.min(wanted, limit.hard);
  if (target <= limit.soft) return limit.soft;
  await promisify(execFile)('prlimit', [`--pid=${pid}`, `--nofile=${target}:${Number.isFinite(limit.hard) ? limit.hard : 'unlimited'}`]).catch(() => undefined);
  return (await readFdLimit(pid))?.soft ?? limit.soft;
}

export interface FdPlan extends FdLimit {
  perServer: number;
  perClientProcess: number;
  /** One line for the report. */
  note: string;
}

/**
 * Checks that a server holding `connections` sockets and each of `clientProcesses` client
 * processes fit under this shell's limits (children inherit them); undefined `hard` means no /proc.
 */
export async function planFds(connections: number, clientProcesses: number): Promise<FdPlan | { error: string }> {
  const limit = (await readFdLimit()) ?? { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY };
  const perServer = connections + 512;
  const perClientProcess = Math.ceil(connections / clientProcesses) + 256;
  const needed = Math.max(perServer, perClientProcess);
  if (needed > limit.hard) {
    return {
      error:
        `${connections} connections need ~${needed} open files in one process, beyond this shell's hard limit of ${limit.hard} ` +
        `(ulimit -Hn; raising it needs root with CAP_SYS_RESOURCE). Use fewer connections${perClientProcess > perServer ? ' or more client processes' : ''}.`,
    };
  }
  const note =
    needed <= limit.soft
      ? `open files: soft limit ${limit.soft} (hard ${limit.hard}) per process covers the ~${perServer} a server needs and the ~${perClientProcess} each client process needs`
      : `open files: soft limit ${limit.soft} is below the ~${needed} needed; each server and client process is raised toward the hard limit ${limit.hard} with prlimit`;
  return { ...limit, perServer, perClientProcess, note };
}

/** Raises `pid` to `wanted` open files, or throws saying how far it got. */
export async function ensureFds(pid: number, wanted: number, what: string): Promise<void> {
  const soft = await raiseFdLimit(pid, wanted);
  if (soft < wanted) throw new Error(`${what} (pid ${pid}) may open only ${soft} files, below the ${wanted} it needs`);
}
