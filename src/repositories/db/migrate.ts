import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { Logger } from '../../platform/logger.js';

export const migrationsFolder = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/** Arbitrary but fixed: every Pulse Hub process contends for the same advisory lock. */
const MIGRATION_LOCK_KEY = 7_243_051_902;

/**
 * Applies pending migrations while holding a session advisory lock, so processes that start
 * together run them one after another: the first applies, the rest find nothing to do.
 */
export async function runMigrations(url: string, logger: Logger): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const started = Date.now();
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
    logger.info('database migrations applied', { durationMs: Date.now() - started });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
