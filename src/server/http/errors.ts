import type { z } from 'zod';
import { UnknownUserError, UnstorableEventError } from '../../services/event-writer.js';
import { findUnsafeInput } from '../../contracts/api/input-safety.js';

export interface FieldError {
  path: string;
  message: string;
}

/** An error with a stable `code` that the error handler turns into a problem+json answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'HttpError';
  }
}

export const fieldErrors = (error: z.ZodError): FieldError[] =>
  error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }));

export const httpErrors = {
  validation: (errors: FieldError[], detail = 'The request is invalid') =>
    new HttpError(400, 'validation_failed', 'Bad Request', detail, errors),
  unauthorized: (code = 'unauthorized', detail = 'Missing or invalid credentials') =>
    new HttpError(401, code, 'Unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer' }),
  forbidden: (detail: string) => new HttpError(403, 'forbidden', 'Forbidden', detail),
  notFound: (detail: string) => new HttpError(404, 'not_found', 'Not Found', detail),
  conflict: (detail: string) => new HttpError(409, 'conflict', 'Conflict', detail),
  /** What the request names existed and is gone for good: `code` says what to do instead. */
  gone: (code: string, detail: string) => new HttpError(410, code, 'Gone', detail),
  unsupportedMediaType: () =>
    new HttpError(415, 'unsupported_media_type', 'Unsupported Media Type', 'Send the body as application/json'),
  tooManyRequests: (retryAfterSeconds: number, detail = 'Rate limit exceeded') =>
    new HttpError(429, 'rate_limited', 'Too Many Requests', detail, undefined, { 'Retry-After': String(retryAfterSeconds) }),
};

/**
 * Parses with a zod schema, answering 400 with every failing path. Untrusted input is walked
 * first (iteratively): nesting too deep for zod's recursion is refused before zod runs; a NUL
 * or lone surrogate is left for the schema to name by its field (storableString), and refused
 * here after a successful parse if the schema let it through, so no schema can forget it.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, detail?: string): z.infer<S> {
  const unsafe = findUnsafeInput(value);
  const unsafeError = () => httpErrors.validation([{ path: unsafe?.path || '(body)', message: unsafe?.message ?? '' }], detail);
  if (unsafe?.reason === 'too_deep') throw unsafeError();
  const result = schema.safeParse(value);
  if (!result.success) throw httpErrors.validation(fieldErrors(result.error), detail);
  if (unsafe) throw unsafeError();
  return result.data;
}

/**
 * Errors of the layers below that are the caller's doing, as the HTTP error they mean: an
 * event the writer refused to store, or a write whose user was deleted meanwhile.
 */
export function asHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof UnstorableEventError) return httpErrors.validation([{ path: error.field, message: error.message }], 'An event cannot be stored');
  if (error instanceof UnknownUserError) return httpErrors.conflict('The user of this write no longer exists');
  return undefined;
}
