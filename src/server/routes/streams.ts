import { Router } from 'express';
import { STREAM_NAME, streamMessageRequestSchema } from '../../contracts/api/streams.js';
import { rooms } from '../../contracts/socket/contracts.js';
import { authenticate, principalOf, type CredentialVerifiers } from '../auth/authenticate.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import { requireJson } from '../middleware/require-json.js';
import type { RateLimits } from '../rate-limits.js';
import type { PulseServer } from '../realtime/types.js';
import { consumeApiBudget } from './events.js';

/**
 * A tenant's backend (or an admin) broadcasts to everyone subscribed to `stream:<name>`, on
 * every hub node through the adapter. Live only: a subscriber that is offline misses it.
 */
export function streamsRouter(deps: { verifiers: CredentialVerifiers; limits: RateLimits; io: PulseServer }): Router {
  const router = Router();
  router.post('/api/v1/streams/:name/messages', authenticate(deps.verifiers, deps.limits), requireJson, async (req, res) => {
    const principal = principalOf(res);
    if (principal.kind === 'user' && principal.role !== 'admin') throw httpErrors.forbidden('Only the API key or an admin may publish');
    await consumeApiBudget(deps.limits, principal, res);
    const name = String(req.params.name);
    if (!STREAM_NAME.test(name)) throw httpErrors.validation([{ path: 'name', message: `must match ${STREAM_NAME.source}` }]);
    const { data } = parseOrThrow(streamMessageRequestSchema, req.body);
    const stream = `stream:${name}`;
    const at = new Date().toISOString();
    deps.io.to(rooms.stream(principal.tenantId, stream)).emit('stream:message', { stream, data, at });
    res.status(202).json({ stream, at });
  });
  return router;
}
