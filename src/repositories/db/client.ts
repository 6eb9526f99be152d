import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Database = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;
export type Transaction = postgres.TransactionSql;

/** Type OIDs for array parameters (`sql.array(values, oid)`), which postgres.js cannot infer from a JS array holding nulls.
 * It has no array mapping for timestamptz: send ISO strings as text and cast in SQL. */
export const pgArrayType = { uuid: 2950, text: 25, float8: 701, int8: 20 } as const;

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
