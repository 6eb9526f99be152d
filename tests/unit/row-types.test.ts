import { getTableColumns, getTableName, is, Table } from 'drizzle-orm';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { sqlColumns, type SqlColumn, type SqlPick, type SqlPickSet, type SqlRow } from '../../src/repositories/db/rows.js';
import * as schema from '../../src/repositories/db/schema.js';
import { boxes, outbox, type rewards, type streaks, type userMissions, type users } from '../../src/repositories/db/schema.js';
import { OUTBOX_JOB_COLUMNS, type OutboxRow } from '../../src/workers/outbox-jobs.js';
import type { MissionRow } from '../../src/repositories/missions.js';
import type { UserLockColumns } from '../../src/services/user-locks.js';
import type { RewardSpec } from '../../src/contracts/api/rules.js';

type SchemaTables = { [K in keyof typeof schema as (typeof schema)[K] extends Table ? K : never]: (typeof schema)[K] };

describe('row types of hand-written SQL (src/repositories/db/rows.ts)', () => {
  it('key a row by SQL column names, with values as postgres.js hands them over on the shared client', () => {
    expectTypeOf<SqlRow<typeof boxes>>().toEqualTypeOf<{
      id: string;
      tenant_id: string;
      user_id: string;
      table_key: string;
      // Timestamps arrive as text: drizzle's driver replaces postgres.js's date parsers.
      granted_at: string;
      opened_at: string | null;
      rarity: string | null;
      roll: Record<string, unknown> | null;
    }>();
    // int8 arrives as text, whatever drizzle's mode; dates are text; a jsonb $type and a text enum keep their types.
    expectTypeOf<SqlPick<typeof outbox, 'id' | 'value'>>().toEqualTypeOf<{ id: string; value: number | null }>();
    expectTypeOf<SqlPick<typeof users, 'last_update_seq' | 'role'>>().toEqualTypeOf<{ last_update_seq: string; role: 'admin' | 'member' }>();
    expectTypeOf<SqlPick<typeof streaks, 'last_day' | 'current'>>().toEqualTypeOf<{ last_day: string; current: number }>();
    expectTypeOf<SqlPick<typeof rewards, 'kind' | 'badge'>>().toEqualTypeOf<{ kind: 'points' | 'box' | 'badge'; badge: string | null }>();
    expectTypeOf<SqlPickSet<typeof rewards, 'badge'>>().toEqualTypeOf<{ badge: string }>();
  });

  it('give the row types the queries use', () => {
    expectTypeOf<MissionRow>().toEqualTypeOf<{
      id: string;
      slot: number;
      template_key: string;
      event_type: string;
      target: number;
      progress: number;
      reward: RewardSpec;
      completed_at: string | null;
    }>();
    expectTypeOf<OutboxRow>().toEqualTypeOf<{ event_id: string; kind: 'event' | 'signal'; tenant_id: string; user_id: string | null; type: string; occurred_at: string; value: number | null; feed: { itemId?: string; topics?: string[] } | null }>();
    expectTypeOf<UserLockColumns['timezone_changed_at']>().toEqualTypeOf<string | null>();
  });

  it('know every column name of every table as a literal (a name typed `string` would let any name through)', () => {
    type Loose = { [K in keyof SchemaTables]: string extends SqlColumn<SchemaTables[K]> ? K : never }[keyof SchemaTables];
    expectTypeOf<Loose>().toEqualTypeOf<never>();
    expectTypeOf<SqlColumn<typeof userMissions>>().toEqualTypeOf<
      'id' | 'tenant_id' | 'user_id' | 'day' | 'slot' | 'template_key' | 'event_type' | 'target' | 'progress' | 'reward' | 'expires_at' | 'completed_at' | 'created_at'
    >();
    // @ts-expect-error: not a column of boxes
    expect(() => sqlColumns(boxes, 'id', 'box_table')).toThrow();
  });

  it('name columns that exist in the schema, and refuse the others at load', () => {
    const tables = Object.values(schema as Record<string, unknown>).filter((value): value is Table => is(value, Table));
    expect(tables.length).toBeGreaterThan(10);
    for (const table of tables) {
      const names = Object.values(getTableColumns(table)).map((column) => column.name);
      expect(sqlColumns(table as never, ...(names as never[])), getTableName(table)).toEqual(names);
    }
    expect(new Set(OUTBOX_JOB_COLUMNS).size).toBe(OUTBOX_JOB_COLUMNS.length);
    expect(Object.values(getTableColumns(outbox)).map((column) => column.name)).toEqual(expect.arrayContaining(OUTBOX_JOB_COLUMNS));
    expect(() => sqlColumns(boxes, 'id', 'box_table' as never)).toThrow('table boxes has no column box_table');
  });
});
