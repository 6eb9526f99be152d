/** Plain-text tables for benchmark output: readable in a terminal and pasteable into an issue. */

export interface Column {
  header: string;
  /** Numbers read best right-aligned; that is the default. */
  align?: 'left' | 'right';
}

export type Cell = string | number | null | undefined;

export function formatTable(columns: readonly Column[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => columns.map((_, i) => cellText(row[i])));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return (columns[i]?.align ?? 'right') === 'left' ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(columns.map((column) => column.header)), rule, ...text.map(line)].join('\n');
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  return typeof cell === 'number' ? formatNumber(cell) : cell;
}

/** Thousands separators for big counts, a fixed number of decimals for small measures. */
export function formatNumber(value: number, decimals?: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = decimals ?? (Number.isInteger(value) || Math.abs(value) >= 100 ? 0 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatPercent(fraction: number, decimals = 1): string {
  return `${(fraction * 100).toFixed(decimals)}%`;
}

/** `PASS` / `MISS` beside a figure and the target it is held to. */
export function verdict(passed: boolean): 'PASS' | 'MISS' {
  return passed ? 'PASS' : 'MISS';
}
