import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNumber, formatPercent, formatTable } from './table.js';

/**
 * Self time per function and per npm package from a V8 `.cpuprofile` (what `node --cpu-prof`
 * writes at exit), optionally restricted to a window of the run, so start-up work (module
 * loading, migrations, tsx compiling) does not drown the steady state being measured.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock `process.hrtime` reads too. */
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A span of the monotonic clock in microseconds; see `monotonicMicros`. */
export interface ProfileWindow {
  startUs: number;
  endUs: number;
}

export interface FunctionTime {
  functionName: string;
  /** `path:line`, relative to the repository; empty for VM entries like (garbage collector). */
  location: string;
  package: string;
  selfMs: number;
  /** Of busy (non-idle) time. */
  share: number;
  /** For Node core and native functions: the innermost npm-package or app frame that called them, by time. */
  calledFrom?: string;
}

export interface PackageTime {
  package: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  profileMs: number;
  /** False when no window was given or the window missed the profile (then the whole profile counts). */
  windowApplied: boolean;
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  functions: FunctionTime[];
  packages: PackageTime[];
  /**
   * Self time regrouped by the innermost npm-package or app frame on the stack, so a socket write
   * counts for the library that asked for it (Express answering, ioredis, postgres.js) rather than
   * for Node core. Time with no such frame (reading sockets, parsing HTTP, GC) keeps its own group.
   */
  chargedTo: PackageTime[];
}

/** Now on the clock V8 stamps profiles with (CLOCK_MONOTONIC), in microseconds. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Profiles written by process `pid` (`CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`), newest last. */
export async function findProfiles(dir: string, pid: number): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid))
    .sort()
    .map((name) => path.join(dir, name));
}

export async function summarizeCpuProfile(file: string, options: { window?: ProfileWindow; root?: string } = {}): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));

  // Sample i lasts until sample i+1 is taken, as DevTools counts it; the last one until endTime.
  const stamps: number[] = [];
  let now = profile.startTime;
  for (let i = 0; i < samples.length; i++) stamps.push((now += deltas[i] ?? 0));
  const window = options.window;
  const windowApplied = window !== undefined && window.startUs < profile.endTime && window.endUs > profile.startTime;

  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const ownerCache = new Map<number, ProfileNode | undefined>();
  /** The innermost frame, this one included, that belongs to an npm package or the app. */
  const ownerOf = (node: ProfileNode): ProfileNode | undefined => {
    if (ownerCache.has(node.id)) return ownerCache.get(node.id);
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName, options.root);
    const parentId = parents.get(node.id);
    const parent = parentId === undefined ? undefined : nodes.get(parentId);
    const owner = isOwner(pkg) ? node : parent ? ownerOf(parent) : undefined;
    ownerCache.set(node.id, owner);
    return owner;
  };

  const byFunction = new Map<string, FunctionTime & { callers: Map<string, number> }>();
  const charged = new Map<string, number>();
  let sampledUs = 0;
  let idleUs = 0;
  for (let i = 0; i < samples.length; i++) {
    const at = stamps[i] as number;
    if (windowApplied && (at < window.startUs || at > window.endUs)) continue;
    const duration = Math.max((stamps[i + 1] ?? profile.endTime) - at, 0);
    const node = nodes.get(samples[i] as number);
    if (!node) continue;
    sampledUs += duration;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += duration;
      continue;
    }
    const location = url ? `${displayPath(url, options.root)}:${lineNumber + 1}` : '';
    const pkg = packageOf(url, functionName, options.root);
    const owner = ownerOf(node);
    const ownerPackage = owner ? packageOf(owner.callFrame.url, owner.callFrame.functionName, options.root) : pkg;
    charged.set(ownerPackage, (charged.get(ownerPackage) ?? 0) + duration / 1000);

    const key = `${functionName}\u0000${location}`;
    let entry = byFunction.get(key);
    if (!entry) {
      entry = { functionName: functionName || '(anonymous)', location, package: pkg, selfMs: 0, share: 0, callers: new Map() };
      byFunction.set(key, entry);
    }
    entry.selfMs += duration / 1000;
    if (owner && owner !== node) {
      const caller = `${owner.callFrame.functionName || '(anonymous)'} (${shortPackage(ownerPackage)})`;
      entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + duration / 1000);
    }
  }

  const busyMs = (sampledUs - idleUs) / 1000;
  const shareOf = (ms: number) => (busyMs > 0 ? ms / busyMs : 0);
  const functions = [...byFunction.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .map(({ callers, ...fn }): FunctionTime => {
      const top = [...callers].sort((a, b) => b[1] - a[1]).slice(0, 2);
      const calledFrom = top.map(([caller, ms]) => `${caller} ${formatPercent(ms / fn.selfMs, 0)}`).join(', ');
      return { ...fn, share: shareOf(fn.selfMs), ...(calledFrom ? { calledFrom } : {}) };
    });
  const byPackage = new Map<string, number>();
  for (const fn of functions) byPackage.set(fn.package, (byPackage.get(fn.package) ?? 0) + fn.selfMs);
  const toList = (map: Map<string, number>): PackageTime[] =>
    [...map].map(([name, selfMs]) => ({ package: name, selfMs, share: shareOf(selfMs) })).sort((a, b) => b.selfMs - a.selfMs);

  return {
    file,
    profileMs: (profile.endTime - profile.startTime) / 1000,
    windowApplied,
    sampledMs: sampledUs / 1000,
    idleMs: idleUs / 1000,
    busyMs,
    functions,
    packages: toList(byPackage),
    chargedTo: toList(charged),
  };
}

const isOwner = (pkg: string) => pkg.startsWith('node_modules/') || pkg === 'app (src/)';
const shortPackage = (pkg: string) => pkg.replace(/^node_modules\//, '');

/** `node_modules/<pkg>` (scoped names kept whole; the innermost one for nested installs), `node (core)`, `app (src/)`, or a VM bucket. */
export function packageOf(url: string, functionName: string, root?: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node (core)';
  const file = toPath(url);
  const marker = '/node_modules/';
  const at = file.lastIndexOf(marker);
  if (at >= 0) {
    const [scope = '', name = ''] = file.slice(at + marker.length).split('/');
    return `node_modules/${scope.startsWith('@') ? `${scope}/${name}` : scope}`;
  }
  if (root && file.startsWith(path.join(root, 'src') + path.sep)) return 'app (src/)';
  return 'other';
}

function toPath(url: string): string {
  const bare = url.split('?')[0] ?? url;
  if (!bare.startsWith('file:')) return bare;
  try {
    return fileURLToPath(bare);
  } catch {
    return bare;
  }
}

function displayPath(url: string, root: string | undefined): string {
  const file = toPath(url);
  return root && path.isAbsolute(file) && file.startsWith(root) ? path.relative(root, file) : file;
}

export function formatProfileSummary(
  summary: ProfileSummary,
  options: { topFunctions?: number; topPackages?: number; root?: string; /** Default `Hub`. */ process?: string } = {},
): string {
  const name = options.root ? path.relative(options.root, summary.file) : summary.file;
  const span = summary.windowApplied
    ? `${formatNumber(summary.sampledMs / 1000, 1)} s measured window of a ${formatNumber(summary.profileMs / 1000, 1)} s profile`
    : `whole ${formatNumber(summary.profileMs / 1000, 1)} s profile (the measured window did not match its clock)`;
  const busyShare = summary.sampledMs > 0 ? summary.busyMs / summary.sampledMs : 0;
  const header =
    `${options.process ?? 'Hub'} CPU profile ${name}: ${span}; busy ${formatNumber(summary.busyMs / 1000, 2)} s (${formatPercent(busyShare)} of one core), ` +
    `idle ${formatNumber(summary.idleMs / 1000, 2)} s. Shares below are of busy time.`;
  const functions = formatTable(
    [
      { header: 'self ms' },
      { header: 'share' },
      { header: 'function', align: 'left' },
      { header: 'location', align: 'left' },
      { header: 'package', align: 'left' },
      { header: 'called from (nearest package frame)', align: 'left' },
    ],
    summary.functions
      .slice(0, options.topFunctions ?? 15)
      .map((fn) => [formatNumber(fn.selfMs, 0), formatPercent(fn.share), fn.functionName, fn.location, fn.package, fn.calledFrom ?? '']),
  );
  const packageTable = (list: PackageTime[]) =>
    formatTable(
      [{ header: 'self ms' }, { header: 'share' }, { header: 'package', align: 'left' }],
      list.slice(0, options.topPackages ?? 15).map((entry) => [formatNumber(entry.selfMs, 0), formatPercent(entry.share), entry.package]),
    );
  return [
    header,
    `Top functions by self time:\n${functions}`,
    `By package (self time where it was spent):\n${packageTable(summary.packages)}`,
    `By package, Node core and native time charged to the package that called it:\n${packageTable(summary.chargedTo)}`,
  ].join('\n\n');
}

/** A profile's summary as the results JSON keeps it: the file relative to `root`, the 30 costliest functions. */
export function profileJson(profile: ProfileSummary | undefined, root: string, window?: ProfileWindow) {
  if (!profile) return null;
  const { file, windowApplied, busyMs, idleMs, functions, packages, chargedTo } = profile;
  return {
    file: path.relative(root, file),
    windowApplied,
    /** Monotonic microseconds, the profile's own clock: to re-read the same stretch from the file. */
    ...(window ? { window } : {}),
    busyMs,
    idleMs,
    functions: functions.slice(0, 30),
    packages,
    chargedTo,
  };
}
