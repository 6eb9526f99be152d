import { v7 as uuidv7 } from 'uuid';
import type { RewardSpec } from '../api/rules.js';
import type { Sql, Transaction } from '../db/client.js';
import type { GrantedReward } from '../socket/user-updates.js';

export interface GrantRequest {
  tenantId: string;
  userId: string;
  /** What earned it (`streak`, `mission`, `campaign`, `box`): with `sourceKey`, unique per user. */
  source: string;
  sourceKey: string;
  spec: RewardSpec;
}

interface RewardRow {
  id: string;
  kind: GrantedReward['kind'];
  points: number;
  badge: string | null;
  box_id: string | null;
}

/**
 * Grants a reward inside the caller's transaction, once: the ledger's unique (tenant, user,
 * source, source key) turns a repeated grant into nothing (null). A box reward also creates the
 * closed box it points to.
 */
export async function grantReward(tx: Transaction, request: GrantRequest): Promise<GrantedReward | null> {
  const { spec } = request;
  const boxId = spec.kind === 'box' ? uuidv7() : null;
  const [row] = await tx<RewardRow[]>`
    insert into rewards (tenant_id, user_id, source, source_key, kind, points, badge, box_id)
    values (${request.tenantId}, ${request.userId}, ${request.source}, ${request.sourceKey}, ${spec.kind},
            ${spec.kind === 'points' ? spec.amount : 0}, ${spec.kind === 'badge' ? spec.badge : null}, ${boxId})
    on conflict (tenant_id, user_id, source, source_key) do nothing
    returning id, kind, points, badge, box_id`;
  if (!row) return null;
  if (spec.kind === 'box') {
    await tx`insert into boxes (id, tenant_id, user_id, table_key) values (${boxId}, ${request.tenantId}, ${request.userId}, ${spec.table})`;
  }
  return { id: row.id, kind: row.kind, points: row.points, badge: row.badge, boxId: row.box_id, source: request.source, sourceKey: request.sourceKey };
}

/** A user's point balance: the sum of the ledger. */
export async function pointsBalance(sql: Sql | Transaction, userId: string): Promise<number> {
  const [row] = await sql<{ total: string }[]>`select coalesce(sum(points), 0) as total from rewards where user_id = ${userId}`;
  return Number(row?.total ?? 0);
}

/**
 * Grants rewards in order inside the caller's transaction; each one granted for the first time
 * comes back with the balance right after it (read once, then kept up to date).
 */
export async function grantRewards(tx: Transaction, userId: string, requests: GrantRequest[]): Promise<{ reward: GrantedReward; points: number }[]> {
  if (requests.length === 0) return [];
  let balance = await pointsBalance(tx, userId);
  const granted: { reward: GrantedReward; points: number }[] = [];
  for (const request of requests) {
    const reward = await grantReward(tx, request);
    if (!reward) continue;
    balance += reward.points;
    granted.push({ reward, points: balance });
  }
  return granted;
}
