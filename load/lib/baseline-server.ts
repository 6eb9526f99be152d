import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { STREAM_NAME, type StreamMessage } from '../../src/shared/api/streams.js';
import { cleanEnv, NodeChild, repoRoot, sleep } from './child-process.js';

/**
 * The fan-out baseline: a bare `ws` WebSocketServer (perMessageDeflate off) in its own process,
 * doing the least a broadcast server can. It takes the hub's publishing request
 * (`POST /api/v1/streams/<name>/messages` with `{ data }` → 202 `{ stream, at }`, no auth) and
 * sends every connected client the frame a Socket.IO subscriber would get,
 * `42["stream:message",{stream,data,at}]`, serialized once and sent in a loop. `GET /stats`
 * answers its process.memoryUsage() and client count, as the hub's /metrics does.
 */

export interface WsBroadcastServer {
  /** `http://host:port`, for publishing and /stats. */
  url: string;
  /** `ws://host:port`, for clients. */
  wsUrl: string;
  pid: number;
  stop(): Promise<void>;
}

export interface WsServerStats {
  heapUsedBytes: number;
  rssBytes: number;
  clients: number;
}

export const WS_STATS_PATH = '/stats';

const thisFile = fileURLToPath(import.meta.url);
const PUBLISH_PATH = /^\/api\/v1\/streams\/([^/]+)\/messages$/;

export async function startWsBroadcastServer(
  options: { host?: string; startTimeoutMs?: number; signal?: AbortSignal; nodeArgs?: string[] } = {},
): Promise<WsBroadcastServer> {
  const host = options.host ?? '127.0.0.1';
  let announce: (url: string) => void = () => undefined;
  const announced = new Promise<string>((resolve) => (announce = resolve));
  const child = new NodeChild({
    script: path.relative(repoRoot, thisFile),
    env: { ...cleanEnv(), WS_BROADCAST_HOST: host },
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
  const url = await Promise.race([announced, failure.then((why) => Promise.reject(new Error(`the ws baseline server ${why}:\n${child.recentOutput()}`)))]).catch(
    async (error: unknown) => {
      await child.stop(5_000);
      throw error;
    },
  );
  return {
    url,
    wsUrl: url.replace(/^http:/, 'ws:'),
    pid: child.pid,
    async stop() {
      await child.stop(10_000);
    },
  };
}

/** The child side. */
function serve(host: string): void {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === WS_STATS_PATH) {
      const { heapUsed, rss } = process.memoryUsage();
      reply(200, { heapUsedBytes: heapUsed, rssBytes: rss, clients: wss.clients.size } satisfies WsServerStats);
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
      const frame = `42${JSON.stringify(['stream:message', { stream, data, at } satisfies StreamMessage])}`;
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(frame);
      reply(202, { stream, at });
    });
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  server.listen(0, host, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `http://${host}:${port}` })}\n`);
  });
  process.once('SIGTERM', () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === thisFile) serve(process.env.WS_BROADCAST_HOST ?? '127.0.0.1');
