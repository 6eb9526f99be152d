import type { Transaction } from '../../../repositories/db/client.js';
import type { LocalDay } from '../../../domain/calendar.js';
import { isDailyAggregation } from '../../../domain/records.js';
import { readBests, readRecordDays, saveBests, saveRecordDays, type PersonalBest, type RecordDay } from '../../../repositories/records.js';
import { keyOf } from '../../../repositories/pairs.js';
import { anyTenantHas, type BatchScope } from './scope.js';

/** The batch's personal records and daily aggregates: read once, updated in memory, written once. */
export class RecordBook {
  private readonly bests = new Map<string, number>();
  private readonly dayValues = new Map<string, number>();
  private readonly changedBests = new Map<string, PersonalBest>();
  private readonly changedDays = new Map<string, RecordDay>();

  private constructor(private readonly tx: Transaction) {}

  static async load(tx: Transaction, scope: BatchScope): Promise<RecordBook> {
    const book = new RecordBook(tx);
    if (!anyTenantHas(scope, (rules) => rules.records.length > 0)) return book;
    const daily = anyTenantHas(scope, (rules) => rules.records.some((metric) => isDailyAggregation(metric.aggregation)));
    const [bests, days] = await Promise.all([readBests(tx, scope.userIds), daily ? readRecordDays(tx, scope.userDays) : []]);
    for (const row of bests) book.bests.set(keyOf(row.userId, row.metricKey), row.best);
    for (const row of days) book.dayValues.set(keyOf(row.userId, row.metricKey, row.day), row.value);
    return book;
  }

  best(userId: string, metricKey: string): number | null {
    return this.bests.get(keyOf(userId, metricKey)) ?? null;
  }

  /** Adds to a day's aggregate; answers the new aggregate. */
  addToDay(userId: string, metricKey: string, day: LocalDay, contribution: number): number {
    const key = keyOf(userId, metricKey, day);
    const value = (this.dayValues.get(key) ?? 0) + contribution;
    this.dayValues.set(key, value);
    this.changedDays.set(key, { userId, metricKey, day, value });
    return value;
  }

  setBest(best: PersonalBest): void {
    this.bests.set(keyOf(best.userId, best.metricKey), best.best);
    this.changedBests.set(keyOf(best.userId, best.metricKey), best);
  }

  writes(): Promise<unknown>[] {
    return [saveRecordDays(this.tx, [...this.changedDays.values()]), saveBests(this.tx, [...this.changedBests.values()])];
  }
}
