import type { RequestHandler } from 'express';
import { HttpError } from '../http/errors.js';

/**
 * Refuses, with the 413 body-parser gives, any request whose Content-Length is over `maxBytes`,
 * whatever the route, and before any route runs. The body is read off the wire (and dropped)
 * before the answer, as body-parser does: a server that answers and closes a connection with
 * unread bytes resets it, and the client may lose the answer. Routes that read no body (GET
 * /metrics, mounted before the body parser) would otherwise answer a large request that way.
 */
export function refuseOversizedBodies(maxBytes: number): RequestHandler {
  return (req, _res, next) => {
    const length = Number(req.get('content-length') ?? 0);
    if (!(length > maxBytes)) {
      next();
      return;
    }
    const tooLarge = new HttpError(413, 'payload_too_large', 'Payload Too Large', 'request entity too large');
    // A client that goes away before the end gets no answer (there is no one to give it to).
    req.once('end', () => next(tooLarge));
    req.resume();
  };
}
