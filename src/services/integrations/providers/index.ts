import type { ConnectionProvider } from '../../../contracts/api/connections.js';
import { etsy } from './etsy.js';
import { shopify } from './shopify.js';
import { stripe } from './stripe.js';
import { tiktokShop } from './tiktok-shop.js';
import type { ProviderAdapter, ProviderEndpoints } from './types.js';

/** Every provider, by its persisted name. */
export const providers: { [P in ConnectionProvider]: ProviderAdapter<P> } = {
  shopify,
  stripe,
  etsy,
  tiktok_shop: tiktokShop,
};

export const providerFor = <P extends ConnectionProvider>(provider: P): ProviderAdapter<P> => providers[provider];

/** The provider's URLs, with the connection's `baseUrls` overrides (when the hub allows them) on top. */
export function endpointsFor(provider: ConnectionProvider, settings: { baseUrls?: Partial<ProviderEndpoints> }): ProviderEndpoints {
  const defaults = providers[provider].defaults;
  return { ...defaults, ...Object.fromEntries(Object.entries(settings.baseUrls ?? {}).filter(([, url]) => url !== undefined)) };
}

export type { ProviderAdapter, ProviderEndpoints, TokenSet } from './types.js';
export { ProviderTokenError } from './types.js';
