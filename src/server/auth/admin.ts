import { httpErrors } from '../http/errors.js';
import type { Principal } from './authenticate.js';

/** The tenant's API key or one of its admins: who may act on any user of the tenant or on its rules. */
export const isTenantAdmin = (principal: Principal): boolean => principal.kind === 'apiKey' || principal.role === 'admin';

/** The actor an audit entry names. */
export const actorOf = (principal: Principal): string => (principal.kind === 'apiKey' ? `api_key:${principal.apiKeyId}` : `user:${principal.userId}`);

export function requireTenantAdmin(principal: Principal, what: string): void {
  if (!isTenantAdmin(principal)) throw httpErrors.forbidden(`Only the API key or an admin may ${what}`);
}
