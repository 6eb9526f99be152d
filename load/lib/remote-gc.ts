import WebSocket from 'ws';

/**
 * A full garbage collection in another Node process, through its inspector (`--inspect=127.0.0.1:<port>`,
 * loopback only): `HeapProfiler.collectGarbage` over the DevTools protocol. Heap figures read right
 * after it are live data rather than whatever garbage the last allocations left, which matters
 * when the growth being measured is a few KiB per connection.
 */

export const inspectFlag = (port: number) => `--inspect=127.0.0.1:${port}`;

export async function collectGarbage(inspectPort: number, timeoutMs = 30_000): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`, { signal })).json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${inspectPort}`);
  const session = new WebSocket(url, { perMessageDeflate: false });
  try {
    await new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error(`no garbage collection within ${timeoutMs} ms`)), { once: true });
      session.once('error', reject);
      session.once('open', () => session.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
      session.on('message', (data: Buffer) => {
        const reply = JSON.parse(data.toString()) as { id?: number; error?: { message?: string } };
        if (reply.id !== 1) return;
        if (reply.error) reject(new Error(`HeapProfiler.collectGarbage: ${reply.error.message ?? 'failed'}`));
        else resolve();
      });
    });
  } finally {
    session.close();
  }
}
