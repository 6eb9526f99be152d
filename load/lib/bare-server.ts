import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, NodeChild, repoRoot, sleep } from './child-process.js';

/**
 * The baseline every benchmark compares against: a bare `node:http` hello-world server, in its
 * own process like the hub, so it neither shares the load generator's event loop (which would
 * cap it unfairly on a small machine) nor gets a process to itself that the hub would not.
 */

export interface BareServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const thisFile = fileURLToPath(import.meta.url);
const BODY = 'hello world\n';

export async function startBareServer(options: { host?: string; startTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<BareServer> {
  const host = options.host ?? '127.0.0.1';
  let url: string | undefined;
  const child = new NodeChild({
    script: path.relative(repoRoot, thisFile),
    env: { ...cleanEnv(), BARE_SERVER_HOST: host },
    onLine: (line, stream) => {
      if (stream === 'stdout' && line.startsWith('{')) url = (JSON.parse(line) as { url: string }).url;
    },
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  try {
    while (!url) {
      if (child.status) throw new Error(`the bare server exited (${JSON.stringify(child.status)}) before listening:\n${child.recentOutput()}`);
      if (Date.now() > deadline) throw new Error(`the bare server did not listen in time:\n${child.recentOutput()}`);
      await sleep(20, options.signal);
    }
  } catch (error) {
    await child.stop(5_000);
    throw error;
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      await child.stop(5_000);
    },
  };
}

/** The child side: answers every request, whatever its method and body, once the body has been read. */
function serve(host: string): void {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(BODY) });
      res.end(BODY);
    });
  });
  server.listen(0, host, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `http://${host}:${port}` })}\n`);
  });
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === thisFile) serve(process.env.BARE_SERVER_HOST ?? '127.0.0.1');
