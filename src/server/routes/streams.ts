import { z } from 'zod';
import { STREAM_NAME, streamMessageRequestSchema, streamMessageResponseSchema } from '../../contracts/api/streams.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { createPusher } from '../realtime/push.js';
import type { PulseServer } from '../realtime/types.js';
import { consumeApiBudget } from './guards.js';

export interface StreamRouteDeps {
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  io: PulseServer;
}

/**
 * A tenant's backend (or an admin) broadcasts to everyone subscribed to `stream:<name>`, on
 * every hub node through the adapter. Live only: a subscriber that is offline misses it.
 */
export const publishStreamMessage = defineRoute({
  method: 'post',
  path: '/api/v1/streams/{name}/messages',
  operationId: 'publishStreamMessage',
  tags: ['streams'],
  summary: 'Broadcast a message to the subscribers of stream:<name>',
  description:
    'With the API key or an admin token. Every socket of the tenant subscribed to `stream:<name>` receives `stream:message` `{stream, data, at}`, on every hub node. Live only: messages are not stored.',
  auth: 'either',
  request: {
    params: z.object({ name: z.string().regex(STREAM_NAME, { message: `must match ${STREAM_NAME.source}` }).meta({ example: 'news' }) }),
    body: { schema: streamMessageRequestSchema, examples: { message: { summary: 'A message', value: streamMessageRequestSchema.meta()?.example } } },
  },
  guard: (deps: StreamRouteDeps) => async ({ res, principal }) => {
    if (principal.kind === 'user' && principal.role !== 'admin') throw httpErrors.forbidden('Only the API key or an admin may publish');
    await consumeApiBudget(deps.limits, principal, res);
  },
  responses: { 202: json('Broadcast to the current subscribers', streamMessageResponseSchema, limited), ...problems(400, 401, 403, 413, 415, 429) },
  handler: (deps: StreamRouteDeps) => ({ res, principal, params: { name }, body: { data } }) => {
    const stream = `stream:${name}`;
    const at = new Date().toISOString();
    createPusher(deps.io).toStream(principal.tenantId, stream, 'stream:message', { stream, data, at });
    res.status(202).json({ stream, at });
  },
});

export const streamRoutes = [publishStreamMessage];

export function streamsRouter(deps: StreamRouteDeps) {
  return mountRoutes(streamRoutes, deps);
}
