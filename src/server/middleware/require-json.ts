import type { RequestHandler } from 'express';
import { httpErrors } from '../http/errors.js';

/** A body in any other media type would reach the route as `undefined`: refuse it with 415 instead. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) throw httpErrors.unsupportedMediaType();
  next();
};
