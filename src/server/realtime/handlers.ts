import type { z } from 'zod';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { Ack, AckResponse, ClientToServerEvents, SocketErrorCode } from '../../contracts/socket/contracts.js';
import { asHttpError } from '../http/errors.js';
import type { PulseSocket } from './types.js';
import { findUnsafeInput } from '../../contracts/api/input-safety.js';

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
  const httpError = asHttpError(error);
  if (httpError) {
    const detail = httpError.errors?.map((item) => `${item.path}: ${item.message}`).join('; ');
    return { code: httpStatusCodes[httpError.status] ?? 'invalid_payload', message: detail || httpError.message };
  }
  logger.error('socket handler failed', errorFields(error));
  return { code: 'internal', message: 'internal error' };
}

/** One client event's handler: its payload schema and what it does for the socket that sent it. */
export interface ClientEventHandler<S extends z.ZodType = z.ZodType, R extends object = object> {
  schema: S;
  run: (socket: PulseSocket, payload: z.infer<S>) => Promise<R> | R;
}

export const clientEvent = <S extends z.ZodType, R extends object>(schema: S, run: (socket: PulseSocket, payload: z.infer<S>) => Promise<R> | R): ClientEventHandler<S, R> => ({
  schema,
  run,
});

/** What a client event's ack carries on success, read off the shared contract. */
type AckResult<E extends keyof ClientToServerEvents> = Parameters<ClientToServerEvents[E]>[1] extends Ack<infer T> ? T : never;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each entry keeps its own schema; the table only pins the results
export type ClientEventTable = { [E in keyof ClientToServerEvents]: ClientEventHandler<any, AckResult<E>> };

function validationMessage(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`).join('; ');
}

/**
 * Builds the one function every socket of a server dispatches its client events through
 * (registered with `socket.onAny`, so it is shared, not a closure per socket and event): the
 * guard (session and rate checks), then the payload's zod schema, then the handler, and always
 * an answer to the ack, when the client sent one: the result or a typed error.
 */
export function clientEventDispatcher(table: ClientEventTable, guard: (socket: PulseSocket) => Promise<void>, logger: Logger) {
  const handlers = new Map<string, ClientEventHandler>(Object.entries(table) as [string, ClientEventHandler][]);
  return function dispatch(this: PulseSocket, event: string, ...args: unknown[]): void {
    const ack: unknown = args.at(-1);
    const reply = typeof ack === 'function' ? (ack as (response: AckResponse) => void) : () => undefined;
    const fail = (error: unknown) => reply({ ok: false, error: toFailure(error, logger) });
    const handler = handlers.get(event);
    guard(this).then(() => {
      if (!handler) throw new SocketError('unknown_event', `"${event}" is not a client event`);
      // Depth, NUL and lone surrogates first, whatever the schema: zod must never see 10,000 levels.
      const unsafe = findUnsafeInput(args[0]);
      if (unsafe) throw new SocketError('invalid_payload', `${unsafe.path || '(payload)'}: ${unsafe.message}`);
      const parsed = handler.schema.safeParse(args[0]);
      if (!parsed.success) throw new SocketError('invalid_payload', validationMessage(parsed.error));
      return handler.run(this, parsed.data);
    }).then((result) => reply({ ok: true, ...result }), fail);
  };
}
