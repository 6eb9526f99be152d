import { createHash } from 'node:crypto';
import { matchesEventType, type MissionTemplate, type RewardSpec } from '../contracts/api/rules.js';
import { localDay, nextLocalDay, type LocalDay } from './calendar.js';

/**
 * Daily missions. A user's missions for a day are a pure function of (user, day, templates), so
 * any process can recompute them instead of storing and locking an assignment, and a user cannot
 * reroll them by asking again.
 */

export interface AssignedMission {
  slot: number;
  templateKey: string;
  eventType: string;
  target: number;
  reward: RewardSpec;
}

export interface MissionStep {
  progress: number;
  completed: boolean;
  justCompleted: boolean;
}

const WORD_RANGE = 2 ** 32;
const WORDS_PER_DIGEST = 8;

function sha256(data: string): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * An endless stream of uniform 32-bit words. The first block is the seed's digest itself; later
 * blocks hash the seed with a block counter, so the stream never depends on anything but the seed.
 */
function* seededWords(seed: string): Generator<number, never> {
  for (let block = 0; ; block += 1) {
    const digest = block === 0 ? sha256(seed) : sha256(`${seed}\u0000${String(block)}`);
    for (let i = 0; i < WORDS_PER_DIGEST; i += 1) yield digest.readUInt32BE(i * 4);
  }
}

class SeededRandom {
  private readonly words: Generator<number, never>;

  constructor(seed: string) {
    this.words = seededWords(seed);
  }

  private word(): number {
    return this.words.next().value;
  }

  /** Uniform in [0, 1) with 53 bits, so weights of very different sizes still get their share. */
  fraction(): number {
    const high = this.word() >>> 5;
    const low = this.word() >>> 6;
    return (high * 2 ** 26 + low) / 2 ** 53;
  }

  /** Uniform integer in [min, max]; rejection keeps it free of modulo bias. */
  integer(min: number, max: number): number {
    const span = max - min + 1;
    if (span <= 1) return min;
    const limit = WORD_RANGE - (WORD_RANGE % span);
    let value = this.word();
    while (value >= limit) value = this.word();
    return min + (value % span);
  }
}

/** Index of the item a uniform `fraction` lands on when each item owns a share proportional to its weight. */
function weightedIndex(weights: readonly number[], fraction: number): number {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const point = fraction * total;
  let cumulative = 0;
  for (const [index, weight] of weights.entries()) {
    cumulative += weight;
    if (point < cumulative) return index;
  }
  // Rounding can leave `point` a hair past the last boundary.
  return weights.length - 1;
}

/** Code-unit order rather than localeCompare: the draw must not change with the server's locale. */
function byKey(a: MissionTemplate, b: MissionTemplate): number {
  if (a.key === b.key) return 0;
  return a.key < b.key ? -1 : 1;
}

function assign(template: MissionTemplate, slot: number, random: SeededRandom): AssignedMission {
  return {
    slot,
    templateKey: template.key,
    eventType: template.eventType,
    target: random.integer(template.targetMin, template.targetMax),
    reward: template.reward,
  };
}

/**
 * The missions of a user on a day: `min(perDay, templates.length)` distinct templates drawn by
 * weight without replacement, in slot order. Templates are sorted by key (unique per the rules
 * schema) first, so how an admin happens to list them does not reshuffle everyone's missions.
 */
export function selectMissions(userId: string, day: LocalDay, templates: readonly MissionTemplate[], perDay: number): AssignedMission[] {
  const random = new SeededRandom(`${userId}\u0000${day}`);
  const remaining = [...templates].sort(byKey);
  const count = Math.max(0, Math.min(Math.floor(perDay), remaining.length));
  const missions: AssignedMission[] = [];
  for (let slot = 0; slot < count; slot += 1) {
    const index = weightedIndex(
      remaining.map((template) => template.weight),
      random.fraction(),
    );
    const [template] = remaining.splice(index, 1);
    if (template === undefined) break;
    missions.push(assign(template, slot, random));
  }
  return missions;
}

export function missionMatches(mission: Pick<AssignedMission, 'eventType'>, eventType: string): boolean {
  return matchesEventType(mission.eventType, eventType);
}

/**
 * Progress after `increment` more qualifying events. Progress is capped at the target and a
 * completed mission stays put, so `justCompleted` is true on exactly one step and its reward is
 * granted once however many events follow.
 */
export function advanceMission(progress: number, target: number, increment = 1): MissionStep {
  if (progress >= target) return { progress: Math.min(progress, target), completed: true, justCompleted: false };
  // Progress never goes backwards, whatever a caller passes.
  const next = Math.min(target, progress + Math.max(0, increment));
  const completed = next >= target;
  return { progress: next, completed, justCompleted: completed };
}

/**
 * The local days a sweep assigns missions for: those after the last assigned day up to today,
 * but none whose events can no longer count (older than the late-event grace). After downtime
 * this catches up; a late event for such a day then still finds its missions. The grace (at
 * most 14 days in the rules) bounds the list, whatever the downtime.
 */
export function missionDaysToAssign(lastAssigned: LocalDay | null, now: Date, zone: string, graceHours: number): LocalDay[] {
  const today = localDay(now, zone);
  const oldestOpen = localDay(new Date(now.getTime() - graceHours * 3_600_000), zone);
  let day = lastAssigned !== null && lastAssigned >= oldestOpen ? nextLocalDay(lastAssigned, zone) : oldestOpen;
  const days: LocalDay[] = [];
  for (; day <= today; day = nextLocalDay(day, zone)) days.push(day);
  return days;
}
