import type { BroadcastOperator } from 'socket.io';
import { rooms, type ServerToClientEvents, type SocketData } from '../../contracts/socket/contracts.js';
import type { PulseServer, PulseSocket } from './types.js';

/** Every event the server sends to clients. */
export type ServerEventName = keyof ServerToClientEvents;
/** Each of them carries exactly one payload. */
export type ServerEventPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];

// Fails to compile if an event ever takes other than one argument: the helper sends exactly one.
type OnePayloadEach = { [E in ServerEventName]: Parameters<ServerToClientEvents[E]> extends [unknown] ? true : false }[ServerEventName];
const onePayloadEach: OnePayloadEach = true;
void onePayloadEach;

export interface PushOptions {
  /** Only to the sockets this node holds, not through the adapter (each node sends to its own). */
  local?: boolean;
  /** Dropped rather than queued for a client that cannot keep up (latest wins). */
  volatile?: boolean;
}

/**
 * The one way the server sends an event to clients. Rooms come only from `rooms` (the contract),
 * events and payloads only from `ServerToClientEvents`: a wrong payload for an event, or an
 * event the contract does not name, fails the typecheck. Room pushes go through the adapter, so
 * they reach whichever hub node holds the sockets (unless `local`).
 */
export interface Pusher {
  /** To every socket of one user (`rooms.user`), on every node. */
  toUser<E extends ServerEventName>(userId: string, event: E, payload: ServerEventPayload<E>): void;
  /** To the sockets subscribed to a tenant's stream room (`rooms.stream`). */
  toStream<E extends ServerEventName>(tenantId: string, stream: string, event: E, payload: ServerEventPayload<E>): void;
  /** To the subscribers of one tenant-wide signal (`rooms.signal`). */
  toSignal<E extends ServerEventName>(tenantId: string, key: string, event: E, payload: ServerEventPayload<E>): void;
  /** To a tenant's admin dashboard room (`rooms.dashboard`). */
  toDashboard<E extends ServerEventName>(tenantId: string, event: E, payload: ServerEventPayload<E>, options?: PushOptions): void;
  /** To every tenant's admin dashboard (`rooms.allDashboards`), on every node: news of the deployment, not of a tenant. */
  toAllDashboards<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>): void;
  /** To one socket only. */
  toSocket<E extends ServerEventName>(socket: PulseSocket, event: E, payload: ServerEventPayload<E>): void;
}

type Broadcast = BroadcastOperator<ServerToClientEvents, SocketData>;

/**
 * The single emit. Socket.IO's own `emit` types cannot follow a generic event name to its
 * parameters, so the call is widened here, once, after `Pusher`'s signatures have checked both.
 */
function send<E extends ServerEventName>(target: Broadcast | PulseSocket, event: E, payload: ServerEventPayload<E>): void {
  (target.emit as (this: typeof target, event: E, payload: ServerEventPayload<E>) => boolean).call(target, event, payload);
}

/** `Pusher.toSocket`, for code that holds a socket but not the server (a session ending). */
export function pushToSocket<E extends ServerEventName>(socket: PulseSocket, event: E, payload: ServerEventPayload<E>): void {
  send(socket, event, payload);
}

export function createPusher(io: PulseServer): Pusher {
  const room = (name: string, options: PushOptions = {}): Broadcast => {
    let operator: Broadcast = options.local ? io.local.to(name) : io.to(name);
    if (options.volatile) operator = operator.volatile;
    return operator;
  };
  return {
    toUser: (userId, event, payload) => send(room(rooms.user(userId)), event, payload),
    toStream: (tenantId, stream, event, payload) => send(room(rooms.stream(tenantId, stream)), event, payload),
    toSignal: (tenantId, key, event, payload) => send(room(rooms.signal(tenantId, key)), event, payload),
    toDashboard: (tenantId, event, payload, options) => send(room(rooms.dashboard(tenantId), options), event, payload),
    toAllDashboards: (event, payload) => send(room(rooms.allDashboards()), event, payload),
    toSocket: pushToSocket,
  };
}
