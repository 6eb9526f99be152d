import { stripeSettingsSchema } from '../../../contracts/api/connections.js';
import { stripeCharges } from './stripe-charges.js';
import { apiKeyCredentials, type ProviderAdapter } from './types.js';

/** Stripe: a secret (or restricted) key as a Bearer token, given as `apiKey`; `Stripe-Account` for a connected account. */
export const stripe: ProviderAdapter<'stripe'> = {
  provider: 'stripe',
  displayName: 'Stripe',
  settingsSchema: stripeSettingsSchema,
  defaults: { api: 'https://api.stripe.com' },
  ...apiKeyCredentials(),
  sync: stripeCharges,
};
