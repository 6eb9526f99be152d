import type { AnyRouteDeclaration } from '../http/define-route.js';
import { boxRoutes } from './boxes.js';
import { campaignRoutes } from './campaigns.js';
import { connectionRoutes, oauthRoutes } from './connections.js';
import { docsRoutes } from './docs.js';
import { eventRoutes } from './events.js';
import { feedRoutes } from './feed.js';
import { operationRoutes } from './operations.js';
import { rulesRoutes } from './rules.js';
import { signalRoutes } from './signals.js';
import { stateRoutes } from './state.js';
import { streakRoutes } from './streaks.js';
import { streamRoutes } from './streams.js';
import { tokenRoutes } from './tokens.js';

/**
 * Every HTTP route the app declares, in the order the OpenAPI document lists them. The document
 * is built from this list (server/openapi.ts), and the routers mount the same declarations, so a
 * route cannot be served without being documented or documented without being served.
 */
export const declaredRoutes: readonly AnyRouteDeclaration[] = [
  ...operationRoutes,
  ...docsRoutes,
  ...tokenRoutes,
  ...eventRoutes,
  ...streamRoutes,
  ...boxRoutes,
  ...campaignRoutes,
  ...stateRoutes,
  ...streakRoutes,
  ...rulesRoutes,
  ...signalRoutes,
  ...feedRoutes,
  ...connectionRoutes,
  ...oauthRoutes,
];
