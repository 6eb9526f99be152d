import type { Database } from '../db/client.js';
import { auditLog } from '../db/schema.js';

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
