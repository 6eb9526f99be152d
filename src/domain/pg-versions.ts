/**
 * Whether a pg_dump of one major version may back up a server of another. An older client aborts
 * on a newer server; a newer major writes dumps the server's own version may refuse to restore
 * (pg_dump 17 emits `SET transaction_timeout`, unknown before 17), which is found out only on the
 * bad day. So only the same major passes.
 */
export function pgDumpMismatch(server: { major: number; version: string }, client: { major: number; version: string; bin: string }): string | undefined {
  if (server.major === client.major) return undefined;
  const why = client.major < server.major
    ? 'an older pg_dump cannot dump a newer server'
    : `a newer pg_dump writes dumps that PostgreSQL ${server.major} may refuse to restore`;
  return (
    `pg_dump ${client.version} (${client.bin}) does not match the database server ${server.version}: ${why}. ` +
    `Install the PostgreSQL ${server.major} client tools and set PG_DUMP_BIN to its pg_dump ` +
    `(e.g. PG_DUMP_BIN=/usr/lib/postgresql/${server.major}/bin/pg_dump; pg_restore and psql are taken from the same folder).`
  );
}

/** The major version in `pg_dump --version` output ("pg_dump (PostgreSQL) 15.20 (Debian ...)") or `server_version`. */
export function majorOf(version: string): number | undefined {
  const match = /(\d+)(?:\.(\d+))?/.exec(version);
  return match ? Number(match[1]) : undefined;
}
