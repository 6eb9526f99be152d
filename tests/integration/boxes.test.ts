import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenedBox } from '../../src/contracts/api/boxes.js';
import { verifyRoll, type BoxRoll } from '../../src/domain/boxes.js';
import { grantRewards } from '../../src/repositories/rewards.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { resolveBoxSecret } from '../../src/platform/secrets.js';
import { apiJson, mintTokens } from '../support/api-client.js';
import { connected, openSocket, type TestSocket } from '../support/socket-client.js';
import { useTestHub, type TestHub } from '../support/test-env.js';

describe('mystery boxes', () => {
  let hub: TestHub;
  let tenant: CreatedTenant;
  const sockets: TestSocket[] = [];

  const fixture = useTestHub();
  beforeAll(async () => {
    hub = fixture.hub;
    tenant = await createTenant(hub.context.database.db, { name: 'boxes', actor: 'test' });
  });
  afterAll(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  /** A user with an access token and a closed box granted to them. */
  async function userWithBox(externalId: string) {
    const tokens = await mintTokens(hub.url, tenant.apiKey, { userId: externalId });
    const [granted] = await hub.context.database.sql.begin((tx) =>
      grantRewards(tx, [{ tenantId: tenant.tenantId, userId: tokens.user.id, source: 'test', sourceKey: externalId, spec: { kind: 'box', table: 'standard' } }]),
    );
    return { tokens, boxId: granted?.reward.boxId as string };
  }

  it('publishes the odds of every box table', async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'reader' });
    const { status, body } = await apiJson<{ tables: { key: string; odds: Record<string, number>; pityOpens: number }[] }>(hub.url, 'GET', '/api/v1/boxes/odds', {
      token: member.accessToken,
    });
    expect(status).toBe(200);
    expect(body.tables).toEqual([expect.objectContaining({ key: 'standard', odds: { common: 70, rare: 20, epic: 8, legendary: 2 }, pityOpens: 10 })]);
  });

  it('opens a box once, however many times it is asked, with a roll that re-verifies', async () => {
    const { tokens, boxId } = await userWithBox('opener');
    const socket = openSocket(hub.url, tokens.accessToken);
    sockets.push(socket);
    await connected(socket);
    const pushed = new Promise((resolve) => socket.once('box:opened', resolve));

    const answers = await Promise.all(Array.from({ length: 10 }, () => apiJson<OpenedBox>(hub.url, 'POST', `/api/v1/me/boxes/${boxId}/open`, { token: tokens.accessToken })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const first = answers.find((answer) => answer.status === 201)?.body as OpenedBox;
    for (const answer of answers) expect(answer.body).toEqual(first);
    expect(verifyRoll(await resolveBoxSecret(hub.config), first.roll as unknown as BoxRoll)).toBe(true);
    expect(verifyRoll(await resolveBoxSecret(hub.config), { ...(first.roll as unknown as BoxRoll), rarity: 'legendary', points: 1000 })).toBe(first.rarity === 'legendary');
    expect(await pushed).toMatchObject({ boxId, rarity: first.rarity, points: first.points });

    const ledger = await hub.context.database.sql`select points from rewards where user_id = ${tokens.user.id} and source = 'box'`;
    expect(ledger).toEqual([{ points: first.points }]);
    const state = await apiJson<{ boxes: { id: string; rarity: string | null }[] }>(hub.url, 'GET', '/api/v1/me/state', { token: tokens.accessToken });
    expect(state.body.boxes).toEqual([expect.objectContaining({ id: boxId, rarity: first.rarity })]);
  });

  it("refuses someone else's box, an API key, and a malformed id", async () => {
    const { boxId } = await userWithBox('owner');
    const stranger = await mintTokens(hub.url, tenant.apiKey, { userId: 'stranger' });
    expect((await apiJson(hub.url, 'POST', `/api/v1/me/boxes/${boxId}/open`, { token: stranger.accessToken })).status).toBe(404);
    expect((await apiJson(hub.url, 'POST', `/api/v1/me/boxes/${boxId}/open`, { token: tenant.apiKey })).status).toBe(403);
    expect((await apiJson(hub.url, 'POST', '/api/v1/me/boxes/not-a-uuid/open', { token: stranger.accessToken })).status).toBe(400);
  });
});
