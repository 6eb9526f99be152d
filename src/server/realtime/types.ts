import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from '../../contracts/socket/contracts.js';

export type PulseServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type PulseSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
