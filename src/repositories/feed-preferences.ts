import type { Sql } from './db/client.js';

export interface QuietHours {
  start: string;
  end: string;
}

/** The user's own quiet hours, or null when it follows the tenant's. */
export async function readQuietHours(sql: Sql, userId: string): Promise<QuietHours | null> {
  const [row] = await sql<{ quiet_start: string | null; quiet_end: string | null }[]>`
    select quiet_start, quiet_end from feed_states where user_id = ${userId}`;
  return row?.quiet_start && row.quiet_end ? { start: row.quiet_start, end: row.quiet_end } : null;
}

/**
 * Sets (or with null clears) the user's own quiet hours, creating its feed bookkeeping row if it
 * has none yet. False when the tenant has no such user (deleted meanwhile): no row is made for it.
 */
export async function saveQuietHours(sql: Sql, tenantId: string, userId: string, quietHours: QuietHours | null): Promise<boolean> {
  const saved = await sql`
    insert into feed_states (user_id, tenant_id, quiet_start, quiet_end)
    select id, tenant_id, ${quietHours?.start ?? null}::text, ${quietHours?.end ?? null}::text from users where id = ${userId} and tenant_id = ${tenantId}
    on conflict (user_id) do update set quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end`;
  return saved.count > 0;
}
