import type { EngineRules } from '../../../contracts/api/rules.js';
import type { Transaction } from '../../../repositories/db/client.js';
import type { LocalDay } from '../../../domain/calendar.js';
import { insertMissions, missionRowsOfDays, plannedMissions, saveMissionProgress, type MissionDay, type MissionRow, type NewMission } from '../../../repositories/missions.js';
import { keyOf } from '../../../repositories/pairs.js';
import { anyTenantHas, type BatchScope } from './scope.js';

/** The missions of the batch's users' days: read once, assigned and advanced in memory, written once. */
export class MissionBook {
  private readonly days = new Map<string, MissionRow[]>();
  private readonly assigned: NewMission[] = [];
  private readonly advanced = new Map<string, { owner: { userId: string; day: LocalDay }; row: MissionRow }>();

  private constructor(private readonly tx: Transaction) {}

  static async load(tx: Transaction, scope: BatchScope): Promise<MissionBook> {
    const book = new MissionBook(tx);
    if (!anyTenantHas(scope, (rules) => rules.missions.perDay > 0 && rules.missions.templates.length > 0)) return book;
    for (const row of await missionRowsOfDays(tx, scope.userDays)) {
      const key = keyOf(row.user_id, row.day);
      book.days.set(key, [...(book.days.get(key) ?? []), row]);
    }
    return book;
  }

  /** The day's missions, by slot; none when the day has not had them assigned. */
  of(userId: string, day: LocalDay): readonly MissionRow[] {
    return this.days.get(keyOf(userId, day)) ?? [];
  }

  /** Assigns the day's missions (the day must have none yet). */
  assign(owner: MissionDay, rules: EngineRules): readonly MissionRow[] {
    const planned = plannedMissions(owner, rules);
    this.assigned.push(...planned);
    const rows = planned.map((mission) => mission.row);
    this.days.set(keyOf(owner.userId, owner.day), rows);
    return rows;
  }

  advance(owner: { userId: string; day: LocalDay }, row: MissionRow, progress: number, completedAt: string | null): void {
    row.progress = progress;
    row.completed_at = completedAt;
    this.advanced.set(row.id, { owner, row });
  }

  writes(): Promise<unknown>[] {
    const fresh = new Set(this.assigned.map((mission) => mission.row.id));
    return [
      // New rows carry their progress already: inserted as they stand now.
      insertMissions(this.tx, this.assigned).then((inserted) => {
        // The user's row lock keeps the sweep out, so a clash means the rows read are stale: fail the batch rather than push missions that were not stored.
        if (inserted.size !== fresh.size) throw new Error('missions were assigned concurrently for a day of this batch');
      }),
      saveMissionProgress(
        this.tx,
        [...this.advanced.values()].filter((mission) => !fresh.has(mission.row.id)),
      ),
    ];
  }
}
