import type { z } from 'zod';
import { errorFields, type Logger } from '../../shared/logger.js';
import type { AckResponse, SocketErrorCode } from '../../shared/socket/contracts.js';
import { HttpError } from '../http/errors.js';

type Failure = { code: SocketErrorCode; message: string };

/** Raised by socket handlers to answer `{ ok: false, error }`. */
export class SocketError extends Error {
  constructor(
    readonly code: SocketErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SocketError';
  }
}

const httpStatusCodes: Partial<Record<number, SocketErrorCode>> = { 400: 'invalid_payload', 401: 'unauthorized', 403: 'forbidden', 429: 'rate_limited' };

function toFailure(error: unknown, logger: Logger): Failure {
  if (error instanceof SocketError) return { code: error.code, message: error.message };
  if (error instanceof HttpError) {
    const detail = error.errors?.map((item) => `${item.path}: ${item.message}`).join('; ');
    return { code: httpStatusCodes[error.status] ?? 'internal', message: detail || error.message };
  }
  logger.error('socket handler failed', errorFields(error));
  return { code: 'internal', message: 'internal error' };
}

/** Answers a client event's ack (its last argument, when it sent one) with an error. */
export function refusePacket(packet: unknown[], code: SocketErrorCode, message: string): void {
  const ack: unknown = packet.at(-1);
  if (typeof ack === 'function') (ack as (response: AckResponse) => void)({ ok: false, error: { code, message } });
}

/**
 * Wraps a handler: validates the payload with its zod schema and always answers the ack, with
 * the handler's result or a typed error. A client that sent no ack gets nothing back.
 */
export function handler<S extends z.ZodType, R extends object>(schema: S, logger: Logger, run: (payload: z.infer<S>) => Promise<R> | R) {
  return (payload: unknown, ack?: unknown) => {
    const reply = typeof ack === 'function' ? (ack as (response: AckResponse<R>) => void) : () => undefined;
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      const message = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`).join('; ');
      reply({ ok: false, error: { code: 'invalid_payload', message } });
      return;
    }
    Promise.resolve()
      .then(() => run(parsed.data))
      .then(
        (result) => reply({ ok: true, ...result }),
        (error: unknown) => reply({ ok: false, error: toFailure(error, logger) }),
      );
  };
}
