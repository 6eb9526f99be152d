import { v7 as uuidv7 } from 'uuid';
import type { RewardSpec } from '../contracts/api/rules.js';
import { pgArrayType, type Sql, type Transaction } from './db/client.js';
import { sqlColumns, type SqlPick } from './db/rows.js';
import { rewards } from './db/schema.js';
import type { GrantedReward } from '../contracts/socket/user-updates.js';

export interface GrantRequest {
  tenantId: string;
  userId: string;
  /** What earned it (`streak`, `mission`, `campaign`, `box`): with `sourceKey`, unique per user. */
  source: string;
  sourceKey: string;
  spec: RewardSpec;
}

const REWARD_COLUMNS = sqlColumns(rewards, 'id', 'user_id', 'source', 'source_key', 'kind', 'points', 'badge', 'box_id');

type RewardRow = SqlPick<typeof rewards, (typeof REWARD_COLUMNS)[number]>;

/** A reward granted now, with the user's point balance right after it. */
export interface Granted {
  reward: GrantedReward;
  points: number;
}

/** A user's point balance: the sum of the ledger. */
export async function pointsBalance(sql: Sql | Transaction, userId: string): Promise<number> {
  return (await pointsBalances(sql, [userId])).get(userId) ?? 0;
}

async function pointsBalances(sql: Sql | Transaction, userIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await sql<(SqlPick<typeof rewards, 'user_id'> & { total: string })[]>`
    select user_id, sum(points) as total from rewards where user_id = any(${sql.array([...userIds], pgArrayType.uuid)}::uuid[]) group by user_id`;
  return new Map(rows.map((row) => [row.user_id, Number(row.total)]));
}

const grantKey = (userId: string, source: string, sourceKey: string) => JSON.stringify([userId, source, sourceKey]);

/**
 * Grants rewards inside the caller's transaction, once each: the ledger's unique (tenant, user,
 * source, source key) turns a repeated grant into nothing (null at its place in the answer). A
 * box reward also creates the closed box it points to. Every user's grants come back in order,
 * each with the balance right after it. One round trip for any number of grants and users; the
 * users' rows must be locked, so no other grant changes their balances meanwhile.
 */
export async function grantRewards(tx: Transaction, requests: readonly GrantRequest[]): Promise<(Granted | null)[]> {
  if (requests.length === 0) return [];
  const column = <T>(pick: (request: GrantRequest) => T) => requests.map(pick);
  const boxIds = requests.map((request) => (request.spec.kind === 'box' ? uuidv7() : null));
  const userIds = [...new Set(column((r) => r.userId))];
  const [balances, rows] = await Promise.all([
    pointsBalances(tx, userIds),
    tx<RewardRow[]>`
      with input as (
        select * from unnest(
          ${tx.array(column((r) => r.tenantId), pgArrayType.uuid)}::uuid[], ${tx.array(column((r) => r.userId), pgArrayType.uuid)}::uuid[],
          ${tx.array(column((r) => r.source), pgArrayType.text)}::text[], ${tx.array(column((r) => r.sourceKey), pgArrayType.text)}::text[],
          ${tx.array(column((r) => r.spec.kind), pgArrayType.text)}::text[], ${tx.array(column((r) => String(r.spec.kind === 'points' ? r.spec.amount : 0)), pgArrayType.int8)}::int4[],
          ${tx.array(column((r) => (r.spec.kind === 'badge' ? r.spec.badge : null)), pgArrayType.text)}::text[], ${tx.array(boxIds, pgArrayType.uuid)}::uuid[],
          ${tx.array(column((r) => (r.spec.kind === 'box' ? r.spec.table : null)), pgArrayType.text)}::text[]
        ) with ordinality as t(tenant_id, user_id, source, source_key, kind, points, badge, box_id, box_table, ord)
      ), granted as (
        insert into rewards (tenant_id, user_id, source, source_key, kind, points, badge, box_id)
        select tenant_id, user_id, source, source_key, kind, points, badge, box_id from input order by ord
        on conflict (tenant_id, user_id, source, source_key) do nothing
        returning ${tx(REWARD_COLUMNS)}
      ), opened_boxes as (
        insert into boxes (id, tenant_id, user_id, table_key)
        select i.box_id, i.tenant_id, i.user_id, i.box_table from input i join granted g on g.box_id = i.box_id
      )
      select * from granted`,
  ]);
  const byKey = new Map(rows.map((row) => [grantKey(row.user_id, row.source, row.source_key), row]));
  return requests.map((request) => {
    const key = grantKey(request.userId, request.source, request.sourceKey);
    const row = byKey.get(key);
    // A request repeated in one call is granted at its first place only.
    byKey.delete(key);
    if (!row) return null;
    const balance = (balances.get(request.userId) ?? 0) + row.points;
    balances.set(request.userId, balance);
    return { reward: { id: row.id, kind: row.kind, points: row.points, badge: row.badge, boxId: row.box_id, source: row.source, sourceKey: row.source_key }, points: balance };
  });
}
