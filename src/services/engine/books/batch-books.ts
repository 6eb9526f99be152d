import type { Transaction } from '../../../repositories/db/client.js';
import { CampaignBook } from './campaign-book.js';
import { MissionBook } from './mission-book.js';
import { RecordBook } from './record-book.js';
import type { BatchScope } from './scope.js';
import { StreakBook } from './streak-book.js';

/** Everything an engine batch reads and writes besides the events and the user updates. */
export interface BatchBooks {
  streaks: StreakBook;
  records: RecordBook;
  missions: MissionBook;
  campaigns: CampaignBook;
}

/** Reads the batch's state: every statement goes out at once (postgres.js pipelines them), one round trip. */
export async function loadBooks(tx: Transaction, scope: BatchScope): Promise<BatchBooks> {
  const [streaks, records, missions, campaigns] = await Promise.all([
    StreakBook.load(tx, scope),
    RecordBook.load(tx, scope),
    MissionBook.load(tx, scope),
    CampaignBook.load(tx, scope),
  ]);
  return { streaks, records, missions, campaigns };
}

/** Writes what the batch changed, one statement per table, pipelined. */
export async function writeBooks(books: BatchBooks): Promise<void> {
  await Promise.all([...books.streaks.writes(), ...books.records.writes(), ...books.missions.writes(), ...books.campaigns.writes()]);
}
