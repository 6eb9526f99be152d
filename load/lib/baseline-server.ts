import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server as SocketIoServer } from 'socket.io';
import { WebSocket, WebSocketServer } from 'ws';
import { STREAM_NAME, type StreamMessage } from '../../src/contracts/api/streams.js';
import { cleanEnv, NodeChild, repoRoot, sleep } from './child-process.js';

/**
 * The fan-out baselines, each in its own process, taking the hub's publishing request
 * (`POST /api/v1/streams/<name>/messages` with `{ data }` → 202 `{ stream, at }`, no auth) and
 * answering `GET /stats` (process.memoryUsage() and client count) as the hub's /metrics does:
 * - `ws`: a bare WebSocketServer (perMessageDeflate off), the least a broadcast server can do. It
 *   sends every client the frame a Socket.IO subscriber would get,
 *   `42["stream:message",{stream,data,at}]`, serialized once and sent in a loop;
 * - `socket.io`: vanilla Socket.IO (default in-memory adapter, no recovery, no auth, no rate
 *   limit) whose only client event is `subscribe {room}`: the floor the library itself sets,
 *   under everything the hub adds.
 */

export type BaselineKind = 'ws' | 'socket.io';

export interface BaselineServer {
  kind: BaselineKind;
  /** `http://host:port`, for publishing and /stats. */
  url: string;
  /** `ws://host:port`, for clients. */
  wsUrl: string;
  pid: number;
  stop(): Promise<void>;
}

export interface BaselineServerStats {
  heapUsedBytes: number;
  rssBytes: number;
  clients: number;
}

export const BASELINE_STATS_PATH = '/stats';

const thisFile = fileURLToPath(import.meta.url);
const PUBLISH_PATH = /^\/api\/v1\/streams\/([^/]+)\/messages$/;

export async function startBaselineServer(
  kind: BaselineKind,
  options: { host?: string; startTimeoutMs?: number; signal?: AbortSignal; nodeArgs?: string[] } = {},
): Promise<BaselineServer> {
  const host = options.host ?? '127.0.0.1';
  let announce: (url: string) => void = () => undefined;
  const announced = new Promise<string>((resolve) => (announce = resolve));
  const child = new NodeChild({
    script: path.relative(repoRoot, thisFile),
    env: { ...cleanEnv(), BASELINE_HOST: host, BASELINE_KIND: kind },
    nodeArgs: options.nodeArgs,
    detached: true,
    onLine: (line, stream) => {
      if (stream === 'stdout' && line.startsWith('{')) announce((JSON.parse(line) as { url: string }).url);
    },
  });
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const failure = Promise.race([
    child.exited.then((status) => `exited (${JSON.stringify(status)})`),
    sleep(timeoutMs, options.signal).then(() => `did not listen within ${timeoutMs} ms`),
  ]);
  const url = await Promise.race([announced, failure.then((why) => Promise.reject(new Error(`the ${kind} baseline server ${why}:\n${child.recentOutput()}`)))]).catch(
    async (error: unknown) => {
      await child.stop(5_000);
      throw error;
    },
  );
  return {
    kind,
    url,
    wsUrl: url.replace(/^http:/, 'ws:'),
    pid: child.pid,
    async stop() {
      await child.stop(10_000);
    },
  };
}

interface Broadcaster {
  clients(): number;
  broadcast(stream: string, message: StreamMessage): void;
  close(): void;
}

function wsBroadcaster(server: http.Server): Broadcaster {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  return {
    clients: () => wss.clients.size,
    broadcast(_stream, message) {
      const frame = `42${JSON.stringify(['stream:message', message])}`;
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(frame);
    },
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}

function socketIoBroadcaster(server: http.Server): Broadcaster {
  const io = new SocketIoServer(server, { serveClient: false, perMessageDeflate: false });
  io.on('connection', (socket) => {
    socket.on('subscribe', (request: { room?: unknown }, ack: (answer: unknown) => void) => {
      const room = String(request.room);
      void socket.join(room);
      ack({ ok: true, room });
    });
  });
  return {
    clients: () => io.engine.clientsCount,
    broadcast: (stream, message) => io.to(stream).emit('stream:message', message),
    close: () => void io.close(),
  };
}

/** The child side. */
function serve(host: string, kind: BaselineKind): void {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === BASELINE_STATS_PATH) {
      const { heapUsed, rss } = process.memoryUsage();
      reply(200, { heapUsedBytes: heapUsed, rssBytes: rss, clients: broadcaster.clients() } satisfies BaselineServerStats);
      return;
    }
    const name = req.method === 'POST' ? PUBLISH_PATH.exec(req.url ?? '')?.[1] : undefined;
    if (name === undefined || !STREAM_NAME.test(name)) {
      req.resume();
      reply(404, { error: 'not found' });
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let data: Record<string, unknown>;
      try {
        data = (JSON.parse(Buffer.concat(chunks).toString()) as { data: Record<string, unknown> }).data;
      } catch {
        reply(400, { error: 'invalid JSON' });
        return;
      }
      const stream = `stream:${name}`;
      const at = new Date().toISOString();
      broadcaster.broadcast(stream, { stream, data, at });
      reply(202, { stream, at });
    });
  });
  const broadcaster = kind === 'ws' ? wsBroadcaster(server) : socketIoBroadcaster(server);
  server.listen(0, host, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `http://${host}:${port}` })}\n`);
  });
  process.once('SIGTERM', () => {
    broadcaster.close();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === thisFile) {
  serve(process.env.BASELINE_HOST ?? '127.0.0.1', process.env.BASELINE_KIND === 'socket.io' ? 'socket.io' : 'ws');
}
