import WebSocket from 'ws';

/**
 * The little of Engine.IO v4 / Socket.IO v5 a load client needs, spoken over a raw `ws` socket
 * so that thousands of clients cost a load generator next to nothing: the open packet, ping/pong,
 * CONNECT to the default namespace with `auth`, events with acks, and incoming events.
 * Text frames only (no binary attachments), default namespace only.
 *
 * Engine.IO packet types: 0 open, 1 close, 2 ping, 3 pong, 4 message, 6 noop. A message carries a
 * Socket.IO packet: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR. Hence the frames
 * `40{...}` (connect), `44{...}` (connect error), `42<id>[...]` (event), `43<id>[...]` (ack).
 */

export type WirePacket =
  | { kind: 'open'; pingInterval: number; pingTimeout: number }
  | { kind: 'ping' }
  | { kind: 'close' }
  | { kind: 'connect'; sid: string }
  | { kind: 'connect-error'; message: string; code: string }
  | { kind: 'event'; name: string; args: unknown[] }
  | { kind: 'ack'; id: number; args: unknown[] }
  | { kind: 'disconnect' }
  | { kind: 'other'; text: string };

/** Decodes one text frame; anything it does not need (noop, pong, binary types) comes back as `other`. */
export function decodeFrame(text: string): WirePacket {
  switch (text[0]) {
    case '0': {
      const open = JSON.parse(text.slice(1)) as { pingInterval?: number; pingTimeout?: number };
      return { kind: 'open', pingInterval: open.pingInterval ?? 0, pingTimeout: open.pingTimeout ?? 0 };
    }
    case '1':
      return { kind: 'close' };
    case '2':
      return { kind: 'ping' };
    case '4':
      return decodeSocketIo(text);
    default:
      return { kind: 'other', text };
  }
}

function decodeSocketIo(text: string): WirePacket {
  const type = text[1];
  // An optional ack id: the digits between the packet type and the JSON payload.
  let at = 2;
  while (at < text.length && text.charCodeAt(at) >= 48 && text.charCodeAt(at) <= 57) at += 1;
  const id = at > 2 ? Number(text.slice(2, at)) : undefined;
  const payload: unknown = at < text.length ? JSON.parse(text.slice(at)) : undefined;
  switch (type) {
    case '0':
      return { kind: 'connect', sid: asText((payload as { sid?: unknown } | undefined)?.sid, '') };
    case '1':
      return { kind: 'disconnect' };
    case '2': {
      const [name, ...args] = Array.isArray(payload) ? (payload as unknown[]) : [];
      return { kind: 'event', name: String(name), args };
    }
    case '3':
      return { kind: 'ack', id: id ?? -1, args: Array.isArray(payload) ? (payload as unknown[]) : [] };
    case '4': {
      const refusal = (payload ?? {}) as { message?: unknown; data?: { code?: unknown } };
      return { kind: 'connect-error', message: asText(refusal.message, ''), code: asText(refusal.data?.code, 'unknown') };
    }
    default:
      return { kind: 'other', text };
  }
}

const asText = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);

/** The hub refused the CONNECT (`44{...}`): its `data.code` says why. */
export class ConnectRefusedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectRefusedError';
  }
}

export interface WireSocketOptions {
  /** `ws://host:port`: the Engine.IO path and query are added for `socket.io`, `/` is used for `raw`. */
  baseUrl: string;
  /**
   * `socket.io`: Engine.IO handshake, then CONNECT with `auth`. `raw`: a bare WebSocket whose
   * server already sends Socket.IO event frames (the baseline), connected once the socket opens.
   */
  protocol: 'socket.io' | 'raw';
  auth?: Record<string, unknown>;
  timeoutMs: number;
  onEvent: (name: string, args: unknown[]) => void;
  /** The socket closed after it had connected. */
  onClose?: (code: number) => void;
}

/** One client connection; `WireSocket.open` resolves once it is connected to the namespace. */
export class WireSocket {
  private nextAckId = 0;
  private readonly acks = new Map<number, (args: unknown[]) => void>();

  private constructor(private readonly ws: WebSocket) {}

  static open(options: WireSocketOptions): Promise<WireSocket> {
    const url = options.protocol === 'socket.io' ? `${options.baseUrl}/socket.io/?EIO=4&transport=websocket` : `${options.baseUrl}/`;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: options.timeoutMs });
    const socket = new WireSocket(ws);
    return new Promise((resolve, reject) => {
      let connected = false;
      const timer = setTimeout(() => fail(new Error('timeout')), options.timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      const connect = () => {
        clearTimeout(timer);
        connected = true;
        resolve(socket);
      };
      ws.on('error', (error) => {
        if (!connected) fail(error);
      });
      ws.on('close', (code) => {
        if (connected) options.onClose?.(code);
        else fail(new Error(`closed before connecting (${code})`));
      });
      if (options.protocol === 'raw') ws.once('open', connect);
      ws.on('message', (data: Buffer, isBinary) => {
        if (isBinary) return;
        const packet = decodeFrame(data.toString());
        switch (packet.kind) {
          case 'open':
            ws.send(`40${options.auth ? JSON.stringify(options.auth) : ''}`);
            return;
          case 'ping':
            ws.send('3');
            return;
          case 'connect':
            connect();
            return;
          case 'connect-error':
            fail(new ConnectRefusedError(packet.code, packet.message));
            return;
          case 'event':
            options.onEvent(packet.name, packet.args);
            return;
          case 'ack':
            socket.acks.get(packet.id)?.(packet.args);
            socket.acks.delete(packet.id);
            return;
          case 'close':
          case 'disconnect':
            ws.close();
            return;
          case 'other':
            return;
        }
      });
    });
  }

  /** Sends `42<id>[name, payload]` and resolves with the ack's first argument. */
  emitWithAck(name: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.nextAckId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`no ack for "${name}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, (args) => {
        clearTimeout(timer);
        resolve(args[0]);
      });
      this.ws.send(`42${id}${JSON.stringify([name, payload])}`);
    });
  }

  close(): void {
    this.ws.close();
  }

  /** Drops the connection without a closing handshake. */
  terminate(): void {
    this.ws.terminate();
  }
}
