import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { withLogContext, type Logger } from '../../platform/logger.js';

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Gives every request an id (a caller's `X-Request-Id` when sane), echoes it, and logs one line per request. */
export function requestContext(logger: Logger): RequestHandler {
  // Winston formats a line before its transports drop it by level: skip the work when it is off.
  const logRequests = logger.isLevelEnabled('http');
  return (req, res, next) => {
    const offered = req.get('x-request-id');
    const requestId = offered && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const started = performance.now();
    withLogContext({ requestId }, () => {
      // Bound so the line keeps the request id whichever async context emits 'finish'.
      if (logRequests) res.on(
        'finish',
        AsyncResource.bind(() =>
          logger.http('request', {
            method: req.method,
            path: req.path,
            status: res.statusCode,
            durationMs: Math.round((performance.now() - started) * 10) / 10,
          }),
        ),
      );
      next();
    });
  };
}
