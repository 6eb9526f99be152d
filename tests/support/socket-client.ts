import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ConnectErrorData, ServerToClientEvents } from '../../src/contracts/socket/contracts.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A real socket.io-client over websocket, without automatic reconnection unless asked. */
export function openSocket(baseUrl: string, token: string | undefined, options: { reconnection?: boolean } = {}): TestSocket {
  return io(baseUrl, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: options.reconnection ?? false, forceNew: true });
}

export function connected(socket: TestSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
}

export function refusedWith(socket: TestSocket): Promise<ConnectErrorData['code'] | undefined> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, but a refusal was expected')));
    socket.once('connect_error', (error) => resolve((error as Error & { data?: ConnectErrorData }).data?.code));
  });
}
