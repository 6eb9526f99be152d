/** The data the page reads: the hub's contracts where they exist, the fused-signal shape from issue F. */
import type { ClientToServerEvents, ConnectErrorData, DashboardMetrics, ServerToClientEvents } from '../../../contracts/socket/contracts.js';
import type { TokenPair } from '../../../contracts/api/tokens.js';
import type { Socket } from 'socket.io-client';

export type { ConnectErrorData, DashboardMetrics, TokenPair };

export interface FusedInput {
  source: string;
  value: number;
  sigma: number;
  observedAt: string;
  ageSeconds: number;
  weight: number;
  contributionPct: number;
  excluded?: 'stale' | 'outlier';
}

/** `signal:fused` and `GET /api/v1/signals` items (the contract is being written beside this page). */
export interface FusedSignal {
  key: string;
  userId?: string | null;
  value: number;
  sigma: number;
  ci95: [number, number];
  unit?: string | null;
  method: string;
  computedAt: string;
  inputs: FusedInput[];
}

/** The socket as the page uses it: the shared contract plus `signal:fused`, which it may not list yet. */
export type DashboardSocket = Socket<ServerToClientEvents & { 'signal:fused': (signal: FusedSignal) => void }, ClientToServerEvents>;
