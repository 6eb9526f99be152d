import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Database = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

export interface DatabaseHandle {
  sql: Sql;
  db: Database;
  close(): Promise<void>;
}

export function connectDatabase(url: string, options: { max: number; applicationName: string }): DatabaseHandle {
  const sql = postgres(url, {
    max: options.max,
    connection: { application_name: options.applicationName },
    onnotice: () => undefined,
  });
  return {
    sql,
    db: drizzle(sql, { schema }),
    close: () => sql.end({ timeout: 5 }),
  };
}
