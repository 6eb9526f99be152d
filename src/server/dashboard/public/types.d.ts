/** The data the page reads, typed by the hub's own contracts. */
import type { ClientToServerEvents, ConnectErrorData, DashboardMetrics, ServerToClientEvents } from '../../../contracts/socket/contracts.js';
import type { ConnectionView, SyncProgress } from '../../../contracts/api/connections.js';
import type { FusedSignal, FusedSignalInput as FusedInput } from '../../../contracts/api/signals.js';
import type { TokenPair } from '../../../contracts/api/tokens.js';
import type { BackupStatus } from '../../../contracts/backups.js';
import type { Socket } from 'socket.io-client';

export type { BackupStatus, ConnectErrorData, ConnectionView, DashboardMetrics, FusedInput, FusedSignal, SyncProgress, TokenPair };

/** The socket as the page uses it. */
export type DashboardSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** One row of the Syncs tile, in words (format.js `describeSync`). */
export interface SyncRowModel {
  id: string;
  name: string;
  provider: string;
  /** The sync's state, or the last progress state (`completed`, `needs_reauth`, ...). */
  state: string;
  stateLabel: string;
  status: string;
  statusLabel: string;
  /** What needs an operator's eye: refused or unreadable credentials, or a failed run. */
  alert: 'needs_reauth' | 'broken' | 'failed' | null;
  /** What went wrong and what to do, when `alert` is set. */
  alertText: string | null;
  /** The running sync's figures so far. */
  live: string | null;
  lastRun: string;
  nextRun: string;
  rateLimitedUntil: string | null;
  /** A countdown is shown: repaint each second. */
  counting: boolean;
  circuit: string;
  circuitOpen: boolean;
}

/** The Backups tile, in words (format.js `describeBackups`). */
export interface BackupModel {
  /** How the latest run ended; `none` before the first. */
  result: 'verified' | 'failed' | 'none';
  resultLabel: string;
  /** A failed run's reason, to highlight. */
  alertText: string | null;
  /** The last backup written: its time and size. */
  lastBackup: string;
  age: string;
  /** No backup yet, or the last one is older than BACKUP_STALE_HOURS. */
  stale: boolean;
  lastVerified: string;
  nextRun: string;
}
