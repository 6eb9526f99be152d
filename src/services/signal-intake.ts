import { v7 as uuidv7 } from 'uuid';
import { fusionRuleFor, type EngineRules } from '../contracts/api/rules.js';
import type { SignalInputBody } from '../contracts/api/signals.js';
import type { Sql } from '../repositories/db/client.js';
import { insertReadings, type NewReading, type StoredReading } from '../repositories/signals.js';
import { UserDirectory } from '../repositories/users.js';
import { UnknownUserError } from './event-writer.js';

/** A reading whose unit differs from the one its signal's rule fixes: refused, never mixed in. */
export interface UnitMismatch {
  index: number;
  unit: string;
  expected: string;
}

/** Readings in another unit than their rule's (a reading without a unit is taken to be in the rule's). */
export function unitMismatches(readings: readonly SignalInputBody[], rules: Pick<EngineRules, 'signals'>): UnitMismatch[] {
  return readings.flatMap((reading, index) => {
    const expected = fusionRuleFor(rules, reading.key).unit;
    return expected !== undefined && reading.unit !== undefined && reading.unit !== expected ? [{ index, unit: reading.unit, expected }] : [];
  });
}

export interface AcceptedReading extends StoredReading {
  idempotencyKey: string | null;
}

/**
 * Accepts readings durably before answering: their users (the tenant's external ids, created on
 * first use as for events) resolved, then readings and their outbox rows stored in one statement,
 * so the relay hands each signal to fusion exactly as it hands events to the engine.
 */
export async function acceptReadings(deps: { sql: Sql; users: UserDirectory }, tenantId: string, readings: readonly SignalInputBody[], now: Date): Promise<AcceptedReading[]> {
  const externalIds = [...new Set(readings.flatMap((reading) => (reading.userId === undefined ? [] : [reading.userId])))];
  const ids = await deps.users.resolveIds(deps.sql, externalIds.map((externalId) => ({ tenantId, externalId })));
  const internalId = (externalId: string) => {
    const id = ids.get(UserDirectory.key(tenantId, externalId));
    // resolveIds creates every user of a live tenant: a gap means the tenant is gone, never a reason to make a user's reading tenant-wide.
    if (id === undefined) throw new UnknownUserError();
    return id;
  };
  const rows: NewReading[] = readings.map((reading) => ({
    id: uuidv7(),
    tenantId,
    userId: reading.userId === undefined ? null : internalId(reading.userId),
    key: reading.key,
    source: reading.source,
    value: reading.value,
    sigma: reading.sigma ?? null,
    unit: reading.unit ?? null,
    observedAt: reading.observedAt ?? now.toISOString(),
    idempotencyKey: reading.idempotencyKey ?? null,
  }));
  const stored = await insertReadings(deps.sql, rows);
  return stored.map((result, index) => ({ ...result, idempotencyKey: rows[index]?.idempotencyKey ?? null }));
}
