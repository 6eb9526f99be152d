import http from 'node:http';
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One request through `node:http`, which sends what fetch refuses to: any method, a path that is
 * not valid percent-encoding, a body under any Content-Encoding, headers of any size.
 */
export function rawRequest(
  baseUrl: string,
  options: { method?: string; path: string; headers?: Record<string, string | number>; body?: string | Buffer },
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { ...(options.body !== undefined ? { 'content-length': Buffer.byteLength(options.body) } : {}), ...options.headers },
        // A fresh connection each time: a refused request may close it.
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * Writes `bytes` on a bare TCP connection and returns everything the server answers until it
 * closes. With `end`, the write side is closed after the bytes, so an incomplete request ends
 * (the server closes) instead of waiting for more.
 */
export function rawSocket(baseUrl: string, bytes: string | Buffer, options: { timeoutMs?: number; end?: boolean } = {}): Promise<string> {
  const { timeoutMs = 5_000, end = false } = options;
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    // Without `end`, the server closes once it has answered (send `Connection: close` for a request it accepts).
    const socket = net.connect(Number(url.port), url.hostname, () => (end ? socket.end(bytes) : socket.write(bytes)));
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('no answer before the timeout')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

/** The status line's code in a raw answer, and its body after the blank line. */
export function parseRawAnswer(answer: string): { status: number; contentType: string | undefined; body: string } {
  const [head = '', body = ''] = answer.split('\r\n\r\n', 2);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const contentType = /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1];
  return { status, contentType, body };
}
