import cliProgress from 'cli-progress';
import type { TableProgress } from '../../services/backups/settings.js';

export interface TableProgressDisplay extends TableProgress {
  /** Ends the display (the bar's last frame stays on screen). */
  stop: () => void;
}

/**
 * Per-table progress of a dump or restore: a bar on a terminal, one plain line per table when
 * piped (logs and CI keep every step), nothing with --json (stdout then holds only the result).
 */
export function tableProgress(verb: string, options: { json: boolean }): TableProgressDisplay {
  if (options.json) return { stop: () => undefined };
  if (!process.stdout.isTTY) {
    let total = 0;
    let done = 0;
    return {
      onStart: (tables) => void (total = tables),
      onTable: (table) => void process.stdout.write(`${verb} ${table} (${++done}/${total})\n`),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${verb.padEnd(9)} [{bar}] {value}/{total} tables  {table}`, stream: process.stdout, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onStart: (tables) => {
      started = true;
      bar.start(tables, 0, { table: '' });
    },
    onTable: (table) => bar.increment(1, { table }),
    stop: () => {
      if (started) bar.stop();
    },
  };
}
