import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { errorFields, type Logger } from '../../shared/logger.js';

/** RFC 9457 problem details: the one error shape every route answers with. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  errors?: { path: string; message: string }[];
}

export function sendProblem(res: Response, problem: Omit<Problem, 'type'> & { type?: string }): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({ type: problem.type ?? 'about:blank', ...problem });
}

export const notFound: RequestHandler = (req, res) =>
  sendProblem(res, { status: 404, code: 'not_found', title: 'Not Found', detail: `No route for ${req.method} ${req.path}` });

/** Errors raised by body parsers carry a 4xx `status`; anything else is our fault and is logged. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendProblem(res, {
        status,
        code: (error as { type?: string }).type?.replaceAll('.', '_') ?? 'bad_request',
        title: 'Bad Request',
        detail: (error as Error).message,
      });
      return;
    }
    logger.error('unhandled request error', errorFields(error));
    sendProblem(res, { status: 500, code: 'internal', title: 'Internal Server Error' });
  };
}
