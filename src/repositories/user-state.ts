import type { UserState } from '../contracts/api/state.js';
import type { EngineRules } from '../contracts/api/rules.js';
import type { Sql, Transaction } from './db/client.js';
import type { SqlPick, SqlPickSet } from './db/rows.js';
import type { boxes as boxesTable, campaignProgress, campaigns as campaignsTable, personalRecords, rewards, streaks as streaksTable, users } from './db/schema.js';
import { localDay } from '../domain/calendar.js';
import { EMPTY_STREAK } from '../domain/streaks.js';
import { missionsOfDay } from './missions.js';
import { pointsBalance } from './rewards.js';
import { listFused } from './signals.js';
import { streakViewOf } from './streaks.js';

const iso = (value: string) => new Date(value).toISOString();

/**
 * A user's whole engagement state, read in one repeatable-read snapshot together with the seq of
 * the latest update it reflects: a client loads it, then applies live updates with a higher seq.
 * Undefined when the user does not exist in the tenant.
 */
export async function loadUserState(sql: Sql, tenantId: string, userId: string, rules: EngineRules, now: Date): Promise<UserState | undefined> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const [user] = await tx<SqlPick<typeof users, 'last_update_seq' | 'timezone'>[]>`
      select last_update_seq, timezone from users where id = ${userId} and tenant_id = ${tenantId}`;
    if (!user) return undefined;
    const zone = user.timezone;
    const today = localDay(now, zone);
    const [streaks, records, missions, points, badges, boxes, campaigns, signals] = await Promise.all([
      streaksOf(tx, userId, rules, today, zone),
      tx<SqlPick<typeof personalRecords, 'metric_key' | 'best' | 'day' | 'achieved_at'>[]>`
        select metric_key, best, day, achieved_at from personal_records where user_id = ${userId} order by metric_key`,
      missionsOfDay(tx, userId, today),
      pointsBalance(tx, userId),
      tx<SqlPickSet<typeof rewards, 'badge'>[]>`select badge from rewards where user_id = ${userId} and kind = 'badge' order by created_at`,
      tx<SqlPick<typeof boxesTable, 'id' | 'table_key' | 'granted_at' | 'opened_at' | 'rarity'>[]>`
        select id, table_key, granted_at, opened_at, rarity from boxes where user_id = ${userId} order by granted_at desc limit 100`,
      tx<(SqlPick<typeof campaignsTable, 'key' | 'name' | 'ends_at'> & SqlPick<typeof campaignProgress, 'points' | 'tier'>)[]>`
        select c.key, c.name, p.points, p.tier, c.ends_at from campaign_progress p join campaigns c on c.id = p.campaign_id
        where p.user_id = ${userId} and c.ends_at > ${now.toISOString()} order by c.ends_at`,
      listFused(tx, { tenantId, userId }),
    ]);
    return {
      seq: Number(user.last_update_seq),
      timeZone: zone,
      today,
      streaks,
      records: records.map((row) => ({ key: row.metric_key, best: row.best, day: row.day, achievedAt: iso(row.achieved_at) })),
      missions: { day: today, items: missions },
      points,
      badges: badges.map((row) => row.badge),
      boxes: boxes.map((row) => ({ id: row.id, table: row.table_key, grantedAt: iso(row.granted_at), openedAt: row.opened_at && iso(row.opened_at), rarity: row.rarity })),
      campaigns: campaigns.map((row) => ({ key: row.key, name: row.name, points: row.points, tier: row.tier, endsAt: iso(row.ends_at) })),
      signals,
    };
  });
}

/** Every streak the rules define, as of today (days missed since the last one use up freezes). */
async function streaksOf(tx: Transaction, userId: string, rules: EngineRules, today: string, zone: string): Promise<UserState['streaks']> {
  const rows = await tx<SqlPick<typeof streaksTable, 'streak_key' | 'current' | 'longest' | 'freezes' | 'last_day' | 'run_start'>[]>`
    select streak_key, current, longest, freezes, last_day, run_start from streaks where user_id = ${userId}`;
  const byKey = new Map(rows.map((row) => [row.streak_key, row]));
  return rules.streaks.map((rule) => {
    const row = byKey.get(rule.key);
    const state = row ? { current: row.current, longest: row.longest, freezes: row.freezes, lastDay: row.last_day, runStart: row.run_start } : EMPTY_STREAK;
    return streakViewOf(rule.key, state, today, zone);
  });
}
