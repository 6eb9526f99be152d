/** The data the page reads, typed by the hub's own contracts. */
import type { ClientToServerEvents, ConnectErrorData, DashboardMetrics, ServerToClientEvents } from '../../../contracts/socket/contracts.js';
import type { FusedSignal, FusedSignalInput as FusedInput } from '../../../contracts/api/signals.js';
import type { TokenPair } from '../../../contracts/api/tokens.js';
import type { Socket } from 'socket.io-client';

export type { ConnectErrorData, DashboardMetrics, FusedInput, FusedSignal, TokenPair };

/** The socket as the page uses it. */
export type DashboardSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
