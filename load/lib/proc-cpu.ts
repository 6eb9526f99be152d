import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { formatNumber, formatPercent, formatTable } from './table.js';

/**
 * CPU time per group of processes over a stretch of a run, read from /proc (Linux only). On a
 * small machine the load generator, the hub, Postgres and Redis share the same cores: where the
 * cores went says more about a ceiling than any single process profile.
 */

export interface ProcessGroup {
  name: string;
  /** Resolved at each reading, so processes forked meanwhile (Postgres backends) count too. */
  pids: () => Promise<number[]>;
}

export interface GroupUsage {
  name: string;
  processes: number;
  cpuMs: number;
}

export interface CpuUsage {
  wallMs: number;
  groups: GroupUsage[];
  /** All CPUs: busy time outside the named groups, and idle time. */
  otherMs: number;
  idleMs: number;
}

export const procAvailable = async (): Promise<boolean> => (await readFile('/proc/self/stat', 'utf8').catch(() => '')) !== '';

let ticksPerSecond: Promise<number> | undefined;
const clockTicks = () =>
  (ticksPerSecond ??= promisify(execFile)('getconf', ['CLK_TCK']).then(
    ({ stdout }) => Number(stdout.trim()) || 100,
    () => 100,
  ));

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // The command name sits in parentheses and may hold spaces: count fields after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** `pid` and every process whose parent it is (one level: how Postgres forks its backends). */
export async function withChildren(pid: number | undefined): Promise<number[]> {
  if (!pid) return [];
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(procStat));
  return [pid, ...stats.filter((stat) => stat?.ppid === pid).map((stat) => (stat as ProcStat).pid)];
}

async function machineTicks(): Promise<{ busy: number; idle: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const ticks = values.map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: ticks.reduce((sum, value) => sum + value, 0) - idle, idle };
}

async function reading(groups: readonly ProcessGroup[]) {
  const perGroup = await Promise.all(
    groups.map(async (group) => {
      const stats = await Promise.all((await group.pids()).map(procStat));
      return new Map(stats.filter((stat) => stat !== undefined).map((stat) => [stat.pid, stat.ticks]));
    }),
  );
  return { at: performance.now(), perGroup, machine: await machineTicks() };
}

/** Starts measuring; the returned function ends the stretch and reports it. */
export async function measureCpu(groups: readonly ProcessGroup[]): Promise<() => Promise<CpuUsage>> {
  const hz = await clockTicks();
  const before = await reading(groups);
  return async () => {
    const after = await reading(groups);
    const toMs = (ticks: number) => (ticks * 1000) / hz;
    const usage = groups.map((group, i): GroupUsage => {
      const start = before.perGroup[i] ?? new Map<number, number>();
      const end = after.perGroup[i] ?? new Map<number, number>();
      // A process born during the stretch counts from zero; one that died is lost (rare: pools keep theirs).
      let ticks = 0;
      for (const [pid, value] of end) ticks += value - (start.get(pid) ?? 0);
      return { name: group.name, processes: end.size, cpuMs: toMs(ticks) };
    });
    const busyMs = toMs(after.machine.busy - before.machine.busy);
    return {
      wallMs: after.at - before.at,
      groups: usage,
      otherMs: Math.max(busyMs - usage.reduce((sum, group) => sum + group.cpuMs, 0), 0),
      idleMs: toMs(after.machine.idle - before.machine.idle),
    };
  };
}

export function formatCpuUsage(title: string, usage: CpuUsage): string {
  const capacityMs = usage.groups.reduce((sum, group) => sum + group.cpuMs, 0) + usage.otherMs + usage.idleMs;
  const rows: { name: string; processes: number | null; ms: number }[] = [
    ...usage.groups.map((group) => ({ name: group.name, processes: group.processes, ms: group.cpuMs })),
    { name: 'other processes', processes: null, ms: usage.otherMs },
    { name: 'idle', processes: null, ms: usage.idleMs },
  ];
  const table = formatTable(
    [{ header: 'process', align: 'left' }, { header: 'procs' }, { header: 'CPU s' }, { header: 'cores' }, { header: 'of machine' }],
    rows.map((row) => [
      row.name,
      row.processes,
      formatNumber(row.ms / 1000, 2),
      formatNumber(row.ms / usage.wallMs, 2),
      formatPercent(capacityMs > 0 ? row.ms / capacityMs : 0),
    ]),
  );
  return `${title} (${formatNumber(usage.wallMs / 1000, 1)} s wall, ${formatNumber(capacityMs / usage.wallMs, 1)} cores):\n${table}`;
}
