import { shopifySettingsSchema } from '../../../contracts/api/connections.js';
import { shopifyOrders } from './shopify-orders.js';
import { apiKeyCredentials, type ProviderAdapter } from './types.js';

export { shopifyApiBase } from './shopify-orders.js';

/**
 * Shopify Admin REST: a custom app's Admin API access token (`X-Shopify-Access-Token`), given
 * through PUT .../credentials as `apiKey`. The API lives on the shop's own domain.
 */
export const shopify: ProviderAdapter<'shopify'> = {
  provider: 'shopify',
  displayName: 'Shopify',
  settingsSchema: shopifySettingsSchema,
  // The real base is per shop: https://<shopDomain>/admin/api, then the settings' apiVersion; a
  // `baseUrls.api` override replaces this part only (see shopifyApiBase).
  defaults: { api: 'https://{shopDomain}/admin/api' },
  ...apiKeyCredentials(),
  sync: shopifyOrders,
};
