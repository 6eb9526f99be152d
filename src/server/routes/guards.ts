import type { Response } from 'express';
import { requireTenantAdmin } from '../auth/admin.js';
import type { Principal } from '../auth/authenticate.js';
import { consumeOrThrow, type RateLimits } from '../rate-limits.js';

/** API keys draw on the tenant's budget; users on their own (sustained + burst). */
export function consumeApiBudget(limits: RateLimits, principal: Principal, res: Response): Promise<void> {
  return principal.kind === 'apiKey'
    ? consumeOrThrow(limits.tenant, limits.limits.tenant, principal.tenantId, res, 'Tenant')
    : consumeOrThrow(limits.user, limits.limits.user, `${principal.tenantId}:${principal.userId}`, res, 'User');
}

/** What these guards read: any authenticated route's guard context (GuardContext) has it. */
interface Caller {
  principal: Principal;
  res: Response;
}

/** The guard of most routes: the caller's API budget (see consumeApiBudget). */
export const withinBudget =
  (deps: { limits: RateLimits }) =>
  ({ principal, res }: Caller): Promise<void> =>
    consumeApiBudget(deps.limits, principal, res);

/** The guard of the tenant-wide routes: the API key or an admin (else 403 saying `what` is refused), then the API budget. */
export const adminWithinBudget =
  (what: string) =>
  (deps: { limits: RateLimits }) =>
  ({ principal, res }: Caller): Promise<void> => {
    requireTenantAdmin(principal, what);
    return consumeApiBudget(deps.limits, principal, res);
  };
