import type { RequestHandler } from 'express';
import { findUnsafeInput, unsafeStringReason, type UnsafeInput } from '../../contracts/api/input-safety.js';
import { HttpError, httpErrors } from '../http/errors.js';

const shown = (segment: string) => (segment.length > 80 ? `${segment.slice(0, 80)}…` : segment);

const invalidPath = (segment: string, message: string) =>
  new HttpError(400, 'invalid_path', 'Bad Request', `The path segment "${shown(segment)}" ${message}`, [{ path: '(path)', message }]);

/**
 * Every path segment must percent-decode, and to text Postgres can store. Checked here, for all
 * routes at once, rather than param by param: a route added later is covered too, and a
 * parameter read with a bare `String(req.params.x)` can never carry NUL into a query.
 */
function checkPath(path: string): void {
  for (const segment of path.split('/')) {
    if (!segment.includes('%')) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw invalidPath(segment, 'is not valid percent-encoding (UTF-8)');
    }
    const reason = unsafeStringReason(decoded);
    if (reason) throw invalidPath(segment, reason);
  }
}

const unsafeError = (unsafe: UnsafeInput, where: '(body)' | '(query)', detail: string) =>
  httpErrors.validation([{ path: unsafe.path || where, message: unsafe.message }], detail);

/**
 * Refuses, before any route or zod schema sees it, input that would crash or corrupt later: a
 * path segment that does not decode or decodes to NUL, a query holding NUL or a lone surrogate,
 * a body nested too deep for recursive code (zod, JSON.stringify). Mounted after the JSON parser,
 * so `req.body` is parsed already. Strings in the body are left to parseOrThrow, which every
 * route parses its body with: its schemas name the field (`idempotencyKey`, `name`), and it
 * refuses any bad string a schema let through.
 */
export const inputGuard: RequestHandler = (req, _res, next) => {
  checkPath(req.path);
  const query = findUnsafeInput(req.query);
  if (query) throw unsafeError(query, '(query)', 'The query string is invalid');
  if (req.body !== undefined) {
    const body = findUnsafeInput(req.body, { strings: false });
    if (body) throw unsafeError(body, '(body)', 'The request body is invalid');
  }
  next();
};
