/**
 * Starts the provider simulator with demo data and prints where each provider lives and the
 * credentials to use. `tsx tests/simulator/main.ts [--port 4100] [--json] [--tiktok-redirect-uri URL]`;
 * stops on SIGINT/SIGTERM, and when the parent that spawned it with an IPC channel goes away (`npm run demo`).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startProviderSimulator, type ProviderSimulator } from './server.js';

export const demoAccounts = {
  shopify: ['demo-shop', 'demo-outlet'],
  stripe: ['acct_demo'],
  etsy: ['40000001'],
  tiktok: ['7000001'],
} as const;

/** Seeds the demo accounts and returns everything a client needs to connect to them. */
export function seedDemo(sim: ProviderSimulator) {
  sim.seed('shopify', 'demo-shop', 320);
  sim.seed('shopify', 'demo-outlet', 180);
  sim.seed('stripe', 'acct_demo', 300);
  sim.seed('etsy', '40000001', 260);
  sim.seed('tiktok', '7000001', 240);
  const etsyTokens = sim.tokens.issue('etsy', '40000001');
  const tiktokTokens = sim.tokens.issue('tiktok', '7000001');
  return {
    url: sim.url,
    shopify: demoAccounts.shopify.map((shop) => ({ shop, baseUrl: sim.baseUrls.shopify(shop), accessToken: sim.tokens.shopify(shop) })),
    stripe: { baseUrl: sim.baseUrls.stripe, account: 'acct_demo', secretKey: sim.tokens.stripe('acct_demo') },
    etsy: {
      baseUrl: sim.baseUrls.etsy,
      connectUrl: sim.baseUrls.etsyConnect,
      shopId: '40000001',
      ...sim.credentials.etsy,
      accessToken: etsyTokens.accessToken,
      refreshToken: etsyTokens.refreshToken,
    },
    tiktok: {
      baseUrl: sim.baseUrls.tiktok,
      authUrl: sim.baseUrls.tiktokAuth,
      authorizeUrl: sim.baseUrls.tiktokAuthorize,
      shopId: '7000001',
      shopCipher: sim.accounts.tiktokShopCipher('7000001'),
      ...sim.credentials.tiktok,
      accessToken: tiktokTokens.accessToken,
      refreshToken: tiktokTokens.refreshToken,
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, json: { type: 'boolean' }, 'tiktok-redirect-uri': { type: 'string' } } });
  const port = values.port === undefined ? 4100 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`invalid --port: ${values.port}`);
    process.exit(2);
  }
  // TikTok Shop's consent page sends the seller to the app's registered redirect URL (the hub's /oauth/callback).
  const redirectUri = values['tiktok-redirect-uri'];
  const sim = await startProviderSimulator({ port, ...(redirectUri !== undefined && { tiktok: { redirectUri } }) });
  const demo = seedDemo(sim);
  if (values.json) console.log(JSON.stringify(demo));
  else {
    console.log(`Provider simulator listening on ${sim.url}`);
    for (const s of demo.shopify) console.log(`  Shopify  ${s.baseUrl}/admin/api/2025-01/orders.json  X-Shopify-Access-Token: ${s.accessToken}`);
    console.log(`  Stripe   ${demo.stripe.baseUrl}/v1/charges  Authorization: Bearer ${demo.stripe.secretKey}`);
    console.log(`  Etsy     ${demo.etsy.baseUrl}/v3/application/shops/${demo.etsy.shopId}/receipts  x-api-key: ${demo.etsy.apiKey}  Authorization: Bearer ${demo.etsy.accessToken}`);
    console.log(`  TikTok   ${demo.tiktok.baseUrl}/order/202309/orders/search  app_key=${demo.tiktok.appKey} shop_cipher=${demo.tiktok.shopCipher}  x-tts-access-token: ${demo.tiktok.accessToken}`);
  }
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A parent killed outright sends no signal: its IPC channel closing is the last word.
  if (process.connected) process.once('disconnect', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
