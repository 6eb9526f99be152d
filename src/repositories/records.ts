import { pgArrayType, type Transaction } from './db/client.js';
import type { SqlPick } from './db/rows.js';
import type { personalRecords, recordDays } from './db/schema.js';
import type { LocalDay } from '../domain/calendar.js';
import { distinct, isRequestedPair } from './pairs.js';

/** A user's best of one metric. */
export interface PersonalBest {
  tenantId: string;
  userId: string;
  metricKey: string;
  best: number;
  day: LocalDay;
  eventId: string;
  achievedAt: Date;
}

/** A user's aggregate of one daily metric on one local day. */
export interface RecordDay {
  userId: string;
  metricKey: string;
  day: LocalDay;
  value: number;
}

/** The stored bests of the given users. */
export async function readBests(tx: Transaction, userIds: readonly string[]): Promise<Pick<PersonalBest, 'userId' | 'metricKey' | 'best'>[]> {
  const rows = await tx<SqlPick<typeof personalRecords, 'user_id' | 'metric_key' | 'best'>[]>`
    select user_id, metric_key, best from personal_records where user_id = any(${tx.array([...userIds], pgArrayType.uuid)}::uuid[])`;
  return rows.map((row) => ({ userId: row.user_id, metricKey: row.metric_key, best: row.best }));
}

/** The daily aggregates of the given users' days, every metric. */
export async function readRecordDays(tx: Transaction, userDays: readonly { userId: string; day: LocalDay }[]): Promise<RecordDay[]> {
  if (userDays.length === 0) return [];
  const rows = await tx<SqlPick<typeof recordDays, 'user_id' | 'metric_key' | 'day' | 'value'>[]>`
    select user_id, metric_key, day, value from record_days
    where user_id = any(${tx.array(distinct(userDays.map((d) => d.userId)), pgArrayType.uuid)}::uuid[]) and day = any(${tx.array(distinct(userDays.map((d) => d.day)), pgArrayType.text)}::date[])`;
  return rows.filter(isRequestedPair(userDays)).map((row) => ({ userId: row.user_id, metricKey: row.metric_key, day: row.day, value: row.value }));
}

/** Stores daily aggregates as absolute values (computed under the users' row locks). */
export async function saveRecordDays(tx: Transaction, days: readonly RecordDay[]): Promise<void> {
  if (days.length === 0) return;
  await tx`
    insert into record_days (user_id, metric_key, day, value)
    select * from unnest(${tx.array(days.map((d) => d.userId), pgArrayType.uuid)}::uuid[], ${tx.array(days.map((d) => d.metricKey), pgArrayType.text)}::text[],
                         ${tx.array(days.map((d) => d.day), pgArrayType.text)}::date[], ${tx.array(days.map((d) => d.value), pgArrayType.float8)}::float8[])
    on conflict (user_id, metric_key, day) do update set value = excluded.value`;
}

export async function saveBests(tx: Transaction, bests: readonly PersonalBest[]): Promise<void> {
  if (bests.length === 0) return;
  const column = <T>(pick: (best: PersonalBest) => T) => bests.map(pick);
  await tx`
    insert into personal_records (user_id, metric_key, tenant_id, best, day, event_id, achieved_at)
    select * from unnest(
      ${tx.array(column((b) => b.userId), pgArrayType.uuid)}::uuid[], ${tx.array(column((b) => b.metricKey), pgArrayType.text)}::text[],
      ${tx.array(column((b) => b.tenantId), pgArrayType.uuid)}::uuid[], ${tx.array(column((b) => b.best), pgArrayType.float8)}::float8[],
      ${tx.array(column((b) => b.day), pgArrayType.text)}::date[], ${tx.array(column((b) => b.eventId), pgArrayType.uuid)}::uuid[],
      ${tx.array(column((b) => b.achievedAt.toISOString()), pgArrayType.text)}::timestamptz[])
    on conflict (user_id, metric_key) do update set best = excluded.best, day = excluded.day, event_id = excluded.event_id, achieved_at = excluded.achieved_at`;
}
