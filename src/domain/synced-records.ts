/**
 * What a page of provider records does to the stored ones: which are upserted, which become
 * events, and how the unmatched count moves. Pure: the sync engine reads the stored state, asks
 * this, and writes the answer in the page's transaction.
 */

export interface IncomingRecord {
  id: string;
  version: string;
  kind: string;
  occurredAt: Date;
  updatedAt: Date;
  value: number | null;
  currency: string | null;
  userKeys: Partial<Record<string, string>>;
}

/** What the engine stored of a record the last time it changed. */
export interface StoredRecord {
  version: string;
  kind: string;
  userId: string | null;
}

export interface RecordMapping {
  /** The record's key that names the tenant's user (its external id). */
  userField: string;
  /** Record kind → event type; kinds not listed make no event. */
  eventTypes: Record<string, string>;
}

export interface PlannedRecord {
  record: IncomingRecord;
  userKey: string | null;
  userId: string | null;
  /** Set when the record makes an event now. */
  event?: { type: string; idempotencyKey: string };
}

export interface PagePlan {
  upserts: PlannedRecord[];
  /** Change of the connection's count of unmatched records. */
  unmatchedDelta: number;
  /** Upserted records no user matched (for this run's progress). */
  unmatched: number;
}

/**
 * A page may hold the same record twice (it changed while the provider paged): the latest
 * change wins, ties going to the later occurrence in the page.
 */
export function latestPerRecord<R extends Pick<IncomingRecord, 'id' | 'updatedAt'>>(records: readonly R[]): R[] {
  const latest = new Map<string, R>();
  for (const record of records) {
    const held = latest.get(record.id);
    if (!held || record.updatedAt.getTime() >= held.updatedAt.getTime()) latest.set(record.id, record);
  }
  return [...latest.values()];
}

/**
 * The deterministic idempotency key of a record's event: the same record at the same version
 * never counts twice, whichever sync (a retry, an overlap, a resumed run) brings it.
 */
export const syncIdempotencyKey = (provider: string, recordId: string, version: string) => `sync:${provider}:${recordId}:${version}`;

/**
 * An unchanged record (same version) is skipped. A changed or new one is upserted; it makes an
 * event when its kind maps to an event type, a user matches, and it has not already made one for
 * this kind (a new record, a changed kind, or a first match of a record unmatched until now).
 */
export function planPage(
  provider: string,
  records: readonly IncomingRecord[],
  stored: ReadonlyMap<string, StoredRecord>,
  users: ReadonlyMap<string, string>,
  mapping: RecordMapping,
): PagePlan {
  const plan: PagePlan = { upserts: [], unmatchedDelta: 0, unmatched: 0 };
  for (const record of latestPerRecord(records)) {
    const previous = stored.get(record.id);
    if (previous && previous.version === record.version) continue;
    const userKey = record.userKeys[mapping.userField] ?? null;
    const userId = userKey === null ? null : (users.get(userKey) ?? null);
    const type = mapping.eventTypes[record.kind];
    const alreadyCounted = previous !== undefined && previous.kind === record.kind && previous.userId !== null;
    const planned: PlannedRecord = { record, userKey, userId };
    if (type !== undefined && userId !== null && !alreadyCounted) planned.event = { type, idempotencyKey: syncIdempotencyKey(provider, record.id, record.version) };
    plan.upserts.push(planned);
    if (userId === null) plan.unmatched += 1;
    plan.unmatchedDelta += (userId === null ? 1 : 0) - (previous !== undefined && previous.userId === null ? 1 : 0);
  }
  return plan;
}
