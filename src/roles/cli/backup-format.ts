/** Human forms of what the backup commands print. */

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "3 d 4 h", "5 h 12 min", "40 s". */
export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(0, Math.floor(ms / 1000))} s`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** Columns padded to their widest cell. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** One line on a backup's verification, e.g. "verified in 1.2 s (checksum, restore, 31 tables' row counts, migration 0013_feeds, 3 users' state)". */
export function describeVerification(manifest: {
  tables: Record<string, number>;
  migration: { tag: string | null } | null;
  smoke: unknown[];
  verification: { status: string; reason: string | null; durationMs: number | null };
}): string {
  const { status, reason, durationMs } = manifest.verification;
  const took = durationMs === null ? '' : ` in ${formatDuration(durationMs)}`;
  if (status === 'failed') return `FAILED verification${took}: ${reason ?? 'no reason recorded'}`;
  if (status === 'unverified') return 'not verified';
  const checks = [`checksum`, `restore`, `${Object.keys(manifest.tables).length} tables' row counts`, `migration ${manifest.migration?.tag ?? 'none'}`, `${manifest.smoke.length} users' state`];
  return `verified${took} (${checks.join(', ')})`;
}
