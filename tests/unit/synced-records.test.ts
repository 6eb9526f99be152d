import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { latestPerRecord, planPage, syncIdempotencyKey, type IncomingRecord, type StoredRecord } from '../../src/domain/synced-records.js';

const mapping = { userField: 'email', eventTypes: { 'order.paid': 'order.paid', 'order.refunded': 'order.refunded' } };
const at = (ms: number) => new Date(1_800_000_000_000 + ms);
const record = (id: string, overrides: Partial<IncomingRecord> = {}): IncomingRecord => ({
  id,
  version: '1',
  kind: 'order.paid',
  occurredAt: at(0),
  updatedAt: at(0),
  value: 10,
  currency: 'USD',
  userKeys: { email: 'ana@example.com' },
  ...overrides,
});
const users = new Map([['ana@example.com', 'user-ana']]);

describe('synced records: what a page does', () => {
  it('makes one event per new paid record of a known user, keyed by provider, record and version', () => {
    const plan = planPage('shopify', [record('1'), record('2', { kind: 'order.pending' })], new Map(), users, mapping);
    expect(plan.upserts.map((entry) => entry.event)).toEqual([{ type: 'order.paid', idempotencyKey: 'sync:shopify:1:1' }, undefined]);
    expect(syncIdempotencyKey('shopify', '1', '1')).toBe('sync:shopify:1:1');
    expect(plan.unmatched).toBe(0);
  });

  it('skips an unchanged record and makes no second event when a paid record changes but stays paid', () => {
    const stored = new Map<string, StoredRecord>([
      ['1', { version: '1', kind: 'order.paid', userId: 'user-ana' }],
      ['2', { version: '1', kind: 'order.paid', userId: 'user-ana' }],
    ]);
    const plan = planPage('etsy', [record('1'), record('2', { version: '2', updatedAt: at(5) })], stored, users, mapping);
    expect(plan.upserts.map((entry) => entry.record.id)).toEqual(['2']);
    expect(plan.upserts[0]?.event).toBeUndefined();
  });

  it('makes an event when a record changes kind (pending → paid, paid → refunded)', () => {
    const stored = new Map<string, StoredRecord>([['1', { version: '1', kind: 'order.pending', userId: 'user-ana' }]]);
    const plan = planPage('stripe', [record('1', { version: '2' })], stored, users, mapping);
    expect(plan.upserts[0]?.event).toEqual({ type: 'order.paid', idempotencyKey: 'sync:stripe:1:2' });
  });

  it('counts unmatched records and lowers the count when one matches later', () => {
    const stranger = record('9', { userKeys: { email: 'nobody@example.com' } });
    const first = planPage('shopify', [stranger, record('8', { userKeys: {} })], new Map(), users, mapping);
    expect(first).toMatchObject({ unmatched: 2, unmatchedDelta: 2 });
    expect(first.upserts.every((entry) => entry.event === undefined)).toBe(true);
    const later = planPage('shopify', [record('9', { version: '2' })], new Map([['9', { version: '1', kind: 'order.paid', userId: null }]]), users, mapping);
    expect(later).toMatchObject({ unmatched: 0, unmatchedDelta: -1 });
    expect(later.upserts[0]?.event?.type).toBe('order.paid');
  });

  it('keeps the latest change of a record a page holds twice', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.constantFrom('a', 'b', 'c'), updated: fc.integer({ min: 0, max: 1000 }) }), { maxLength: 30 }), (entries) => {
        const latest = latestPerRecord(entries.map((entry) => ({ id: entry.id, updatedAt: at(entry.updated) })));
        expect(new Set(latest.map((entry) => entry.id)).size).toBe(latest.length);
        for (const kept of latest) {
          const newest = Math.max(...entries.filter((entry) => entry.id === kept.id).map((entry) => entry.updated));
          expect(kept.updatedAt.getTime()).toBe(at(newest).getTime());
        }
      }),
    );
  });

  it('never makes two events for the same record and version, whatever the page order or repeats', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.constantFrom('1', '2', '3'), version: fc.constantFrom('1', '2'), kind: fc.constantFrom('order.paid', 'order.pending') }), { maxLength: 20 }), (entries) => {
        const plan = planPage('shopify', entries.map((entry, index) => record(entry.id, { version: entry.version, kind: entry.kind, updatedAt: at(index) })), new Map(), users, mapping);
        const keys = plan.upserts.flatMap((entry) => (entry.event ? [entry.event.idempotencyKey] : []));
        expect(new Set(keys).size).toBe(keys.length);
        expect(plan.upserts.length).toBe(new Set(entries.map((entry) => entry.id)).size);
      }),
    );
  });
});
