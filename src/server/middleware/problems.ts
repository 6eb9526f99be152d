import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Problem } from '../../contracts/api/problem.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import { asHttpError } from '../http/errors.js';

export function sendProblem(res: Response, problem: Omit<Problem, 'type'> & { type?: string }): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({ type: problem.type ?? 'about:blank', ...problem });
}

export const notFound: RequestHandler = (req, res) =>
  sendProblem(res, { status: 404, code: 'not_found', title: 'Not Found', detail: `No route for ${req.method} ${req.path}` });

/** body-parser failures, by their `type`: all the client's fault. */
const parserProblems: Record<string, { status: number; code: string; title: string }> = {
  'entity.too.large': { status: 413, code: 'payload_too_large', title: 'Payload Too Large' },
  'entity.parse.failed': { status: 400, code: 'malformed_json', title: 'Bad Request' },
  'encoding.unsupported': { status: 415, code: 'unsupported_encoding', title: 'Unsupported Media Type' },
  'charset.unsupported': { status: 415, code: 'unsupported_charset', title: 'Unsupported Media Type' },
};

/** A client error's stable code: its body-parser `type` if any (`request.aborted` → `request_aborted`), else its status text (`bad_request`). */
const codeFor = (status: number, type: unknown): string =>
  typeof type === 'string' && /^[a-z]+(\.[a-z]+)*$/.test(type) ? type.replaceAll('.', '_') : (STATUS_CODES[status] ?? 'client error').toLowerCase().replace(/[^a-z]+/g, '_');

/**
 * An error that Express, the router or body-parser already classified as the client's fault:
 * http-errors style (`status`/`statusCode` 4xx, `expose: true`), or the router's URIError for a
 * param that does not percent-decode (status 400, no `expose`). It keeps its status; anything
 * else stays a 500, so a bug can never hide behind a 4xx it was not given on purpose.
 */
function clientErrorProblem(error: unknown, req: Request): Omit<Problem, 'type'> | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode, expose, type, message } = error as { status?: unknown; statusCode?: unknown; expose?: unknown; type?: unknown; message?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 499) return undefined;
  if (expose !== true && !(error instanceof URIError)) return undefined;
  // A body that does not decompress surfaces as zlib's own error (its codes differ per
  // algorithm) with a 400 attached and no body-parser `type`: name it after the header.
  const encoding = (req.get('content-encoding') ?? 'identity').toLowerCase();
  const zlibFailure = code === 400 && type === undefined && encoding !== 'identity' && !(error instanceof URIError);
  return {
    status: code,
    code: zlibFailure ? 'malformed_content_encoding' : codeFor(code, type),
    title: STATUS_CODES[code] ?? 'Bad Request',
    detail: zlibFailure ? 'The body does not decode with its Content-Encoding' : typeof message === 'string' ? message : undefined,
  };
}

/** Turns every error into problem+json; only unexpected ones (5xx) are logged as errors. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const httpError = asHttpError(error);
    if (httpError) {
      res.set(httpError.headers);
      sendProblem(res, { status: httpError.status, code: httpError.code, title: httpError.title, detail: httpError.message, errors: httpError.errors });
      return;
    }
    const parserProblem = parserProblems[(error as { type?: string }).type ?? ''];
    if (parserProblem) {
      sendProblem(res, { ...parserProblem, detail: (error as Error).message });
      return;
    }
    const clientProblem = clientErrorProblem(error, req);
    if (clientProblem) {
      sendProblem(res, clientProblem);
      return;
    }
    logger.error('unhandled request error', errorFields(error));
    sendProblem(res, { status: 500, code: 'internal', title: 'Internal Server Error' });
  };
}

/** Parser-level failures Node answers before Express runs, by their code; anything else is a 400. */
const clientErrorStatuses: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/**
 * A listener for the HTTP server's `clientError` event (`server.on('clientError', answerClientError)`):
 * a request Node's parser refuses (headers over 16 KiB, an unknown method, a malformed request
 * line) gets the same problem+json a route would give, instead of Node's bare status line.
 * Mirrors Node's default listener otherwise: a reset socket is just destroyed, and nothing is
 * written once a response has started.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (error.code === 'ECONNRESET' || !socket.writable || started) {
    socket.destroy();
    return;
  }
  const status = clientErrorStatuses[error.code ?? ''] ?? 400;
  const title = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({ type: 'about:blank', status, code: codeFor(status, undefined), title, detail: 'The HTTP request could not be parsed' });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
