import { getTableColumns, getTableName, type Column, type Table } from 'drizzle-orm';

/**
 * Row types for hand-written SQL, derived from the drizzle schema: a row is keyed by the columns'
 * SQL names (postgres.js hands rows over as the database names them), so renaming a column in
 * `schema.ts` fails the type check wherever a query's rows are read.
 */

/**
 * Column types postgres.js hands over as text on this client: int8 (postgres.js leaves it text)
 * and the timestamps and dates (drizzle's driver replaces their parsers on the client it shares).
 */
type TextOnTheWire = 'PgBigInt53' | 'PgBigInt64' | 'PgTimestamp' | 'PgTimestampString' | 'PgDate' | 'PgDateString';

/** A column's value as postgres.js hands it over. */
export type SqlValue<C extends Column> = (C['_']['columnType'] extends TextOnTheWire ? string : C['_']['data']) | (C['_']['notNull'] extends true ? never : null);

type ColumnsOf<T extends Table> = T['_']['columns'];

/** A whole row of `T` as hand-written SQL reads it: SQL column names, wire values. */
export type SqlRow<T extends Table> = { [K in keyof ColumnsOf<T> as ColumnsOf<T>[K]['_']['name']]: SqlValue<ColumnsOf<T>[K]> };

/** The SQL name of one of `T`'s columns. */
export type SqlColumn<T extends Table> = keyof SqlRow<T> & string;

/** The row of a query that reads columns `K` of `T`. */
export type SqlPick<T extends Table, K extends SqlColumn<T>> = Pick<SqlRow<T>, K>;

/** Like `SqlPick`, for columns the query knows are set (a `returning` of columns it just set, a filter on them). */
export type SqlPickSet<T extends Table, K extends SqlColumn<T>> = { [P in K]: NonNullable<SqlRow<T>[P]> };

/**
 * The SQL names of some of `table`'s columns, checked by type and again at load, for a select or
 * returning list: `select ${sql(columns)} from ...` quotes each one.
 */
export function sqlColumns<T extends Table, const K extends SqlColumn<T>>(table: T, ...names: K[]): K[] {
  const known = new Set(Object.values(getTableColumns(table)).map((column: Column) => column.name));
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`table ${getTableName(table)} has no column ${unknown.join(', ')}`);
  return names;
}
