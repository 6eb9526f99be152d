import { beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/repositories/tenants.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';

/**
 * Concurrent requests of all tenants share group commits: one tenant's writes that fail inside
 * the commit must not fail (or hold back) another tenant's writes batched with them.
 */
describe('ingest isolation between tenants', () => {
  /** The hub, the innocent tenant (the file's own) and a client on the database. */
  const fixture = useTenantHub('innocent', { role: 'hub' });
  let guiltyKey: string;
  beforeAll(async () => {
    guiltyKey = (await createTenant(fixture.hub.context.database.db, { name: 'guilty', actor: 'test' })).apiKey;
  });

  const innocentBatch = (label: string, count: number) =>
    Array.from({ length: count }, (_, i) => postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'ok.event', userId: `u${i % 5}`, idempotencyKey: `${label}-${i}` }));

  async function expectAllStored(label: string, responses: { status: number }[]) {
    expect(responses.map((response) => response.status)).toEqual(responses.map(() => 202));
    const [row] = await fixture.sql<{ n: number }[]>`
      select count(*)::int as n from events where tenant_id = ${fixture.tenant.tenantId} and idempotency_key like ${`${label}-%`}`;
    expect(row?.n).toBe(responses.length);
  }

  it('fails only the write of a user deleted after its token was issued, not its neighbours', async () => {
    const ghost = await mintTokens(fixture.hub.url, guiltyKey, { userId: 'ghost' });
    await fixture.sql`delete from users where external_id = 'ghost'`;
    const guilty = Array.from({ length: 3 }, () => postEvents(fixture.hub.url, ghost.accessToken, { type: 'bad.event' }));
    const innocent = innocentBatch('ghost-neighbours', 40);
    const guiltyAnswers = await Promise.all(guilty);
    expect(guiltyAnswers.every((answer) => answer.status >= 400)).toBe(true);
    await expectAllStored('ghost-neighbours', await Promise.all(innocent));
    expect(await fixture.sql`select 1 from events where type = 'bad.event'`).toHaveLength(0);
  });

  it('refuses a new user of a deleted tenant with 409 (not a failed commit), and every neighbour commits', async () => {
    const doomed = await createTenant(fixture.hub.context.database.db, { name: 'doomed', actor: 'test' });
    const admin = await mintTokens(fixture.hub.url, doomed.apiKey, { userId: 'doomed-admin', role: 'admin' });
    await fixture.sql`delete from tenants where id = ${doomed.tenantId}`;
    // An admin token names users; one cannot be created for a tenant that is gone, and that is the caller's conflict, not a 500.
    const guilty = Array.from({ length: 3 }, (_, i) => postEvents(fixture.hub.url, admin.accessToken, { type: 'bad.event', userId: `new-${i}` }));
    const innocent = innocentBatch('deleted-tenant-neighbours', 40);
    const guiltyAnswers = await Promise.all(guilty);
    expect(guiltyAnswers.map((answer) => answer.status)).toEqual([409, 409, 409]);
    await expectAllStored('deleted-tenant-neighbours', await Promise.all(innocent));
  });

  it('refuses an event Postgres cannot store before it joins a commit, and its neighbours commit', async () => {
    // A lone surrogate is stored as U+FFFD, so the key would no longer match itself on a retry.
    const guilty = Array.from({ length: 3 }, (_, i) => postEvents(fixture.hub.url, guiltyKey, { type: 'bad.event', userId: 'u', idempotencyKey: `k-${i}-\ud800` }));
    const innocent = innocentBatch('surrogate-neighbours', 40);
    const guiltyAnswers = await Promise.all(guilty);
    expect(guiltyAnswers.every((answer) => answer.status >= 400)).toBe(true);
    await expectAllStored('surrogate-neighbours', await Promise.all(innocent));
  });
});
