import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router, type Express, type RequestHandler } from 'express';
import { queueNames } from '../../contracts/queues.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import { recordAuthFailure } from '../auth/authenticate.js';
import { HttpError, httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';

/** Where the queue admin UI lives: its page, its static files and its API (`/api/*`) are all under it. */
export const QUEUE_BOARD_PATH = '/admin/queues';

/** The challenge that makes a browser ask for a user name and password (any name, the token as password). */
export const OPERATOR_CHALLENGE = 'Basic realm="Pulse Hub operators"';

export interface QueueBoardDeps {
  queues: JobQueues;
  /** OPERATOR_TOKEN, or the one generated into DATA_DIR outside production (platform/secrets.ts). */
  operatorToken: string;
  limits: RateLimits;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** The token an `Authorization` header carries: `Bearer <token>`, or basic auth with the token as password. */
export function presentedToken(header: string | undefined): string | undefined {
  const match = /^(\w+) +(\S+) *$/.exec(header ?? '');
  if (!match) return undefined;
  const [, scheme = '', value = ''] = match;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

const unauthorized = (detail: string) => new HttpError(401, 'unauthorized', 'Unauthorized', detail, undefined, { 'WWW-Authenticate': OPERATOR_CHALLENGE });

/**
 * Lets only the operator through. Queues span tenants, so no tenant credential is accepted. Both
 * sides are hashed first so the comparison takes the same time whatever the length or content of
 * the guess. A request with no credential at all is a browser's first request (it sends the
 * password only after the challenge), so only a wrong credential counts against the caller's
 * address in the auth-failure limiter (past its limit: 429 instead of 401).
 */
export function requireOperator(operatorToken: string, limits: RateLimits): RequestHandler {
  const expected = digest(operatorToken);
  return async (req, res, next) => {
    const token = presentedToken(req.get('authorization'));
    if (token === undefined) throw unauthorized('The queue admin UI needs the operator token (OPERATOR_TOKEN)');
    if (!timingSafeEqual(digest(token), expected)) {
      await recordAuthFailure(limits, req.ip ?? 'unknown', res);
      throw unauthorized('Wrong operator token');
    }
    next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Browsers send cached basic-auth credentials with cross-site requests too, so a page elsewhere
 * could make the operator's browser retry, clean or obliterate queues. The board's own page calls
 * its API from this origin: a state-changing request that a browser marks as cross-site (by
 * `Sec-Fetch-Site`, or an `Origin` naming another host) is refused.
 */
const refuseCrossSiteWrites: RequestHandler = (req, _res, next) => {
  if (SAFE_METHODS.has(req.method)) return next();
  const site = req.get('sec-fetch-site');
  const origin = req.get('origin');
  let crossOrigin = site !== undefined && site !== 'same-origin';
  if (origin !== undefined) {
    try {
      crossOrigin ||= new URL(origin).host !== req.get('host');
    } catch {
      crossOrigin = true;
    }
  }
  if (crossOrigin) throw httpErrors.forbidden('The queue admin UI accepts changes from its own page only');
  next();
};

/** The page's stylesheet link to Google Fonts: the hub serves no external URL (machines may be offline; the operator's browser should not call out). */
const EXTERNAL_FONTS = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^"]*"[^>]*>\s*/g;

type RenderEngine = (file: string, options: object, callback: (error: Error | null, html?: string) => void) => void;

/**
 * `/admin/queues`: bull-board over every queue of `queueNames` (the producer-side Queue objects),
 * for the operator only. bull-board has no auth of its own, so the board's whole Express app sits
 * behind `requireOperator`: nothing under the path (page, static files, `/api/*`) answers without
 * the token. `setBasePath` must equal the mount path: the page builds its `<base href>`, static
 * URLs and API calls from it (a mismatch leaves it on "Loading").
 *
 * CSP: the page runs under helmet's app-wide policy unchanged. Its scripts are files of this
 * origin (`script-src 'self'`); its one inline `<script>` is `type="application/json"` config
 * data, which is never executed and so needs no `'unsafe-inline'`; its inline styles are
 * allowed by helmet's default `style-src 'unsafe-inline'`; its images are same-origin files.
 * The browser test (tests/integration/queue-board.test.ts) checks that it renders without a
 * console error, CSP violations included.
 */
export function queueBoardRouter(deps: QueueBoardDeps): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queueNames.map((name) => new BullMQAdapter(deps.queues.get(name))),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Pulse Hub queues' } },
  });
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');
  // The entry page is an EJS view of @bull-board/ui: render it as usual, minus the font link.
  const engines = (board as unknown as { engines: Record<string, RenderEngine | undefined> }).engines;
  const renderEjs = engines['.ejs'];
  if (!renderEjs) throw new Error('bull-board registered no EJS engine: its entry page cannot be rendered');
  board.engine('ejs', (file: string, options: object, callback: (error: unknown, html?: string) => void) =>
    renderEjs(file, options, (error, html) => callback(error, html?.replace(EXTERNAL_FONTS, ''))),
  );

  const router = Router();
  router.use(QUEUE_BOARD_PATH, requireOperator(deps.operatorToken, deps.limits), refuseCrossSiteWrites, board);
  return router;
}
