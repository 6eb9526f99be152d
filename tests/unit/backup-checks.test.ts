import { describe, expect, it } from 'vitest';
import { tableCountDifferences } from '../../src/domain/backup-checks.js';
import { majorOf, pgDumpMismatch } from '../../src/domain/pg-versions.js';
import { pgToolsFrom } from '../../src/platform/pg-tools.js';

describe('pg_dump version guard', () => {
  const server = { major: 15, version: '15.18' };

  it('accepts the same major, whatever the minor', () => {
    expect(pgDumpMismatch(server, { major: 15, version: '15.20', bin: 'pg_dump' })).toBeUndefined();
  });

  it('refuses an older client and a newer major, naming both versions and the fix', () => {
    const older = pgDumpMismatch(server, { major: 14, version: '14.11', bin: '/usr/bin/pg_dump' });
    expect(older).toMatch(/pg_dump 14\.11 \(\/usr\/bin\/pg_dump\) does not match the database server 15\.18: an older pg_dump cannot dump a newer server/);
    const newer = pgDumpMismatch(server, { major: 17, version: '17.2', bin: 'pg_dump' });
    expect(newer).toMatch(/pg_dump 17\.2 .* server 15\.18: a newer pg_dump writes dumps that PostgreSQL 15 may refuse to restore/);
    for (const message of [older, newer]) expect(message).toContain('PG_DUMP_BIN=/usr/lib/postgresql/15/bin/pg_dump');
  });

  it('reads majors from tool and server versions', () => {
    expect(majorOf('15.20')).toBe(15);
    expect(majorOf('17beta1')).toBe(17);
    expect(majorOf('nonsense')).toBeUndefined();
  });
});

describe('table count comparison', () => {
  it('names missing, extra and differing tables', () => {
    expect(tableCountDifferences({ 'public.users': 3, 'public.events': 9 }, { 'public.users': 3, 'public.events': 9 })).toEqual([]);
    expect(tableCountDifferences({ 'public.users': 3, 'public.events': 9 }, { 'public.users': 2, 'public.extra': 0 })).toEqual([
      'table public.users has 2 rows, expected 3',
      'table public.events is missing (expected 9 rows)',
      'table public.extra is not in the manifest',
    ]);
  });
});

describe('pg tools', () => {
  it('takes pg_restore from the folder of PG_DUMP_BIN unless PG_RESTORE_BIN is set', () => {
    expect(pgToolsFrom({ PG_DUMP_BIN: '/usr/lib/postgresql/15/bin/pg_dump' })).toEqual({ pgDump: '/usr/lib/postgresql/15/bin/pg_dump', pgRestore: '/usr/lib/postgresql/15/bin/pg_restore' });
    expect(pgToolsFrom({ PG_DUMP_BIN: 'pg_dump' })).toEqual({ pgDump: 'pg_dump', pgRestore: 'pg_restore' });
    expect(pgToolsFrom({ PG_DUMP_BIN: 'pg_dump', PG_RESTORE_BIN: '/opt/pg/pg_restore' }).pgRestore).toBe('/opt/pg/pg_restore');
  });
});
