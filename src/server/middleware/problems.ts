import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Problem } from '../../shared/api/problem.js';
import { errorFields, type Logger } from '../../shared/logger.js';
import { HttpError } from '../http/errors.js';

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

/** Turns every error into problem+json; only unexpected ones (5xx) are logged as errors. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof HttpError) {
      res.set(error.headers);
      sendProblem(res, { status: error.status, code: error.code, title: error.title, detail: error.message, errors: error.errors });
      return;
    }
    const parserProblem = parserProblems[(error as { type?: string }).type ?? ''];
    if (parserProblem) {
      sendProblem(res, { ...parserProblem, detail: (error as Error).message });
      return;
    }
    logger.error('unhandled request error', errorFields(error));
    sendProblem(res, { status: 500, code: 'internal', title: 'Internal Server Error' });
  };
}
