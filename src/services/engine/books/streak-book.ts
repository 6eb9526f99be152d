import type { LocalDay } from '../../../domain/calendar.js';
import type { DayGuard, StreakState } from '../../../domain/streaks.js';
import type { Transaction } from '../../../repositories/db/client.js';
import {
  creditDays,
  creditedDays,
  creditedDaysAmong,
  readStreaks,
  saveStreaks,
  type StoredStreak,
  type StreakDay,
  type StreakOwner,
  type StreakToSave,
} from '../../../repositories/streaks.js';
import { keyOf } from '../../../repositories/pairs.js';
import { anyTenantHas, type BatchScope } from './scope.js';

/**
 * The batch's streaks: read once, changed in memory event by event, written once. Whether a day
 * is already credited is known for every event's own day; a day the time-zone guard moves an
 * event to, and the full list a late day refolds from, are read when needed (rarely).
 */
export class StreakBook {
  private readonly stored = new Map<string, StoredStreak>();
  private readonly credited = new Set<string>();
  private readonly knownDays = new Set<string>();
  private readonly changed = new Map<string, StreakToSave>();
  private readonly newDays: StreakDay[] = [];

  private constructor(private readonly tx: Transaction) {}

  static async load(tx: Transaction, scope: BatchScope): Promise<StreakBook> {
    const book = new StreakBook(tx);
    if (!anyTenantHas(scope, (rules) => rules.streaks.length > 0)) return book;
    const [streaks, days] = await Promise.all([readStreaks(tx, scope.userIds), creditedDaysAmong(tx, scope.userDays)]);
    for (const row of streaks) book.stored.set(keyOf(row.userId, row.key), row.stored);
    for (const { userId, day } of scope.userDays) book.knownDays.add(keyOf(userId, day));
    for (const row of days) book.credited.add(keyOf(row.userId, row.key, row.day));
    return book;
  }

  get(owner: StreakOwner): StoredStreak | null {
    return this.stored.get(keyOf(owner.userId, owner.key)) ?? null;
  }

  async isCredited(owner: StreakOwner, day: LocalDay): Promise<boolean> {
    const lastDay = this.get(owner)?.state.lastDay;
    // The last day is the latest credited one: nothing after it is credited.
    if (!lastDay || day > lastDay) return false;
    if (day === lastDay) return true;
    if (!this.knownDays.has(keyOf(owner.userId, day))) {
      const days = await creditedDaysAmong(this.tx, [{ userId: owner.userId, day }]);
      this.knownDays.add(keyOf(owner.userId, day));
      for (const row of days) this.credited.add(keyOf(row.userId, row.key, row.day));
    }
    return this.credited.has(keyOf(owner.userId, owner.key, day));
  }

  credit(owner: StreakOwner, day: LocalDay): void {
    this.credited.add(keyOf(owner.userId, owner.key, day));
    this.newDays.push({ userId: owner.userId, key: owner.key, day });
  }

  /** Every credited day of a streak, this batch's included. */
  async allDays(owner: StreakOwner): Promise<LocalDay[]> {
    const stored = await creditedDays(this.tx, owner);
    const added = this.newDays.filter((day) => day.userId === owner.userId && day.key === owner.key).map((day) => day.day);
    return [...new Set([...stored, ...added])];
  }

  save(owner: StreakOwner, state: StreakState, guard: DayGuard): void {
    this.stored.set(keyOf(owner.userId, owner.key), { state, guard });
    this.changed.set(keyOf(owner.userId, owner.key), { owner, state, guard });
  }

  writes(): Promise<unknown>[] {
    return [creditDays(this.tx, this.newDays), saveStreaks(this.tx, [...this.changed.values()])];
  }
}
