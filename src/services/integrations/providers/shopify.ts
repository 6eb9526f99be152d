import { shopifySettingsSchema } from '../../../contracts/api/connections.js';
import { apiKeyCredentials, type ProviderAdapter } from './types.js';

/**
 * Shopify Admin REST: a custom app's Admin API access token (`X-Shopify-Access-Token`), given
 * through PUT .../credentials as `apiKey`. The API lives on the shop's own domain.
 */
export const shopify: ProviderAdapter<'shopify'> = {
  provider: 'shopify',
  displayName: 'Shopify',
  settingsSchema: shopifySettingsSchema,
  // The real base is per shop: https://<shopDomain>/admin/api/<version>; see shopifyApiBase.
  defaults: { api: 'https://{shopDomain}/admin/api' },
  ...apiKeyCredentials(),
};

/** The Admin API base of a shop (unless the connection's settings override `baseUrls.api`). */
export const shopifyApiBase = (settings: { shopDomain: string; apiVersion: string; baseUrls?: { api?: string } }): string =>
  settings.baseUrls?.api ?? `https://${settings.shopDomain}/admin/api/${settings.apiVersion}`;
