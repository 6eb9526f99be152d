import type { Database, Transaction } from './db/client.js';
import { auditLog } from './db/schema.js';

export interface AuditEntry {
  tenantId: string | null;
  /** `cli`, `system`, `api_key:<id>` or `user:<id>`. */
  actor: string;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

type Executor = Pick<Database, 'insert'>;

export async function recordAudit(db: Executor, entries: AuditEntry | AuditEntry[]): Promise<void> {
  await db.insert(auditLog).values(Array.isArray(entries) ? entries : [entries]);
}

/** The same entry, written inside a postgres.js transaction (jsonb as text and a cast: drizzle replaced the client's json serializer). */
export async function recordAuditIn(tx: Transaction, entry: AuditEntry): Promise<void> {
  await tx`
    insert into audit_log (tenant_id, actor, action, target, details)
    values (${entry.tenantId}, ${entry.actor}, ${entry.action}, ${entry.target ?? null}, ${entry.details ? JSON.stringify(entry.details) : null}::jsonb)`;
}
