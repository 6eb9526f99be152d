import http from 'node:http';
import { WebSocket, type RawData } from 'ws';

/**
 * Raw Engine.IO v4 / Socket.IO v5 clients for tests that must speak the wire protocol itself
 * (what curl, a broken client or an attacker sends), not through socket.io-client.
 */

/** Separates the packets of one long-polling payload. */
export const RECORD_SEPARATOR = '\x1e';

export const pollingPath = (sid?: string, query = 'EIO=4&transport=polling') => `/socket.io/?${query}${sid === undefined ? '' : `&sid=${encodeURIComponent(sid)}`}`;
export const websocketUrl = (baseUrl: string, sid?: string) => `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket${sid === undefined ? '' : `&sid=${encodeURIComponent(sid)}`}`;

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sends the body with chunked transfer encoding instead of a Content-Length. */
  chunked?: boolean;
  timeoutMs?: number;
}

/** One HTTP request on a connection of its own (no keep-alive, no fetch niceties), as curl makes it. */
export function rawRequest(baseUrl: string, path: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const method = options.method ?? 'GET';
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (body && !options.chunked) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const request = http.request(new URL(path, baseUrl), { method, headers, agent: false, timeout: options.timeoutMs ?? 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} got no answer in ${options.timeoutMs ?? 10_000} ms`)));
    request.on('error', reject);
    if (body) request.write(body);
    request.end();
  });
}

export interface OpenPacket {
  sid: string;
  upgrades: string[];
  pingInterval: number;
  pingTimeout: number;
  maxPayload: number;
}

/** The Engine.IO open packet (`0{...}`) a handshake answers with. */
export function parseOpenPacket(text: string): OpenPacket {
  if (!text.startsWith('0{')) throw new Error(`not an Engine.IO open packet: ${JSON.stringify(text.slice(0, 120))}`);
  return JSON.parse(text.slice(1)) as OpenPacket;
}

/** A Socket.IO CONNECT for the main namespace with this auth payload (`40` alone without one). */
export const connectPacket = (auth?: unknown) => (auth === undefined ? '40' : `40${JSON.stringify(auth)}`);

/** A Socket.IO EVENT with an ack id. */
export const eventPacket = (ackId: number, event: string, ...args: unknown[]) => `42${ackId}${JSON.stringify([event, ...args])}`;

/** The ack (`43<id>[answer]`) for `ackId` among `packets`, parsed, if there is one. */
export function findAck(packets: readonly string[], ackId: number): unknown {
  const prefix = `43${ackId}[`;
  const packet = packets.find((candidate) => candidate.startsWith(prefix));
  return packet === undefined ? undefined : (JSON.parse(packet.slice(prefix.length - 1)) as unknown[])[0];
}

/** An Engine.IO session over HTTP long-polling, one request at a time, as a browser's first transport. */
export class PollingSession {
  private constructor(
    readonly baseUrl: string,
    readonly open: OpenPacket,
    private readonly headers: Record<string, string>,
  ) {}

  get sid(): string {
    return this.open.sid;
  }

  static async start(baseUrl: string, headers: Record<string, string> = {}): Promise<PollingSession> {
    const response = await rawRequest(baseUrl, pollingPath(), { headers });
    if (response.status !== 200) throw new Error(`polling handshake answered ${response.status}: ${response.body}`);
    return new PollingSession(baseUrl, parseOpenPacket(response.body), headers);
  }

  /** POSTs packets as one payload. */
  send(...packets: string[]): Promise<RawResponse> {
    return this.post(packets.join(RECORD_SEPARATOR));
  }

  post(body: string | Buffer, options: Omit<RawRequestOptions, 'method' | 'body'> = {}): Promise<RawResponse> {
    return rawRequest(this.baseUrl, pollingPath(this.sid), { ...options, method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', ...this.headers, ...options.headers }, body });
  }

  /** One GET; it waits (up to `timeoutMs`) until the server has something to send. */
  get(timeoutMs = 10_000): Promise<RawResponse> {
    return rawRequest(this.baseUrl, pollingPath(this.sid), { headers: this.headers, timeoutMs });
  }

  /** One GET that must succeed; its packets. */
  async poll(timeoutMs?: number): Promise<string[]> {
    const response = await this.get(timeoutMs);
    if (response.status !== 200) throw new Error(`poll answered ${response.status}: ${response.body}`);
    return response.body.split(RECORD_SEPARATOR);
  }

  /** Sends a Socket.IO CONNECT with `auth` and returns the answer (`40{sid}` or `44{refusal}`). */
  async connect(auth?: unknown): Promise<string> {
    const sent = await this.send(connectPacket(auth));
    if (sent.status !== 200) throw new Error(`CONNECT post answered ${sent.status}: ${sent.body}`);
    const packets = await this.poll();
    const answer = packets.find((packet) => packet.startsWith('40') || packet.startsWith('44'));
    if (answer === undefined) throw new Error(`no CONNECT answer in ${JSON.stringify(packets)}`);
    return answer;
  }

  /**
   * Whether the server ended this session: a GET is refused as an unknown session (after the
   * close packet `1`, or buffered packets, were delivered). A session still open answers no GET
   * within `timeoutMs` (the server holds it until it has data), which counts as not closed.
   */
  async isClosed(timeoutMs = 3_000): Promise<boolean> {
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const response = await this.get(timeoutMs).catch(() => undefined);
      if (response === undefined) return false;
      if (response.status === 400) return (JSON.parse(response.body) as { code?: number }).code === 1;
      if (response.status !== 200) throw new Error(`poll answered ${response.status}: ${response.body}`);
    }
    return false;
  }
}

export interface Closed {
  code: number;
  reason: string;
}

/** A websocket speaking raw Engine.IO frames; it answers the server's pings by itself. */
export class RawWebSocket {
  readonly received: (string | Buffer)[] = [];
  readonly closed: Promise<Closed>;
  private waiters: (() => void)[] = [];
  private closedWith: Closed | undefined;

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
        this.wake();
      });
    });
    socket.on('error', () => undefined);
    socket.on('message', (data: RawData, isBinary) => {
      const message = isBinary ? Buffer.from(data as Buffer) : (data as Buffer).toString('utf8');
      if (message === '2') socket.send('3');
      else this.received.push(message);
      this.wake();
    });
  }

  /** Opens the websocket, or resolves with the HTTP status with which the upgrade was refused. */
  static open(url: string, headers: Record<string, string> = {}): Promise<RawWebSocket | { refused: number; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers, perMessageDeflate: false });
      socket.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ refused: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      socket.once('open', () => resolve(new RawWebSocket(socket)));
      socket.once('error', reject);
    });
  }

  /** Opens the websocket and reads the open packet; fails if the upgrade is refused. */
  static async start(baseUrl: string, headers: Record<string, string> = {}): Promise<{ ws: RawWebSocket; open: OpenPacket }> {
    const ws = await RawWebSocket.open(websocketUrl(baseUrl), headers);
    if (!(ws instanceof RawWebSocket)) throw new Error(`websocket upgrade refused with ${ws.refused}: ${ws.body}`);
    const first = await ws.next();
    if (typeof first !== 'string') throw new Error('the open packet was binary');
    return { ws, open: parseOpenPacket(first) };
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(data: string | Buffer): void {
    if (this.isOpen) this.socket.send(data);
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The next message the server sent, or undefined if the socket closed first. */
  async next(timeoutMs = 5_000): Promise<string | Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.closedWith) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no websocket message in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.shift();
  }

  /** Reads messages until one satisfies `match` (returned), or undefined if the socket closed first. */
  async until(match: (message: string | Buffer) => boolean, timeoutMs = 5_000): Promise<string | Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.next(Math.max(deadline - Date.now(), 1));
      if (message === undefined || match(message)) return message;
    }
  }

  /** Sends a Socket.IO CONNECT with `auth` and returns the answer (`40{sid}` or `44{refusal}`), or undefined if the server closed instead. */
  async connect(auth?: unknown): Promise<string | undefined> {
    this.send(connectPacket(auth));
    const answer = await this.until((message) => typeof message === 'string' && (message.startsWith('40') || message.startsWith('44')));
    return answer as string | undefined;
  }

  /** Resolves when the server closed the socket (with its close code); fails after `timeoutMs`. */
  async closedWithin(timeoutMs = 5_000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the websocket is still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) this.socket.close();
  }

  terminate(): void {
    this.socket.terminate();
  }
}
