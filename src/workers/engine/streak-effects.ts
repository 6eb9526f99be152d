import { matchesEventType, type StreakRule } from '../../shared/api/rules.js';
import type { LocalDay } from '../../shared/engine/calendar.js';
import { creditDay, EMPTY_STREAK, foldStreak, stepStreak, type DayGuard, type MilestoneReached, type StreakState } from '../../shared/engine/streaks.js';
import { checkAfter } from '../../shared/queues/at-risk.js';
import { creditDays, creditedDays, milestoneGrants, readStreak, saveGuard, saveStreak, type StreakOwner } from '../../shared/repositories/streaks.js';
import { inParallel, type EffectContext } from './context.js';

const qualifies = (rule: StreakRule, eventType: string) => rule.eventTypes.length === 0 || rule.eventTypes.some((matcher) => matchesEventType(matcher, eventType));

/** Credits the event's day to every streak it qualifies for, granting milestone rewards once per run. */
export async function applyStreaks(context: EffectContext): Promise<void> {
  if (!context.countsForItsDay) return;
  const rules = context.rules.streaks.filter((rule) => qualifies(rule, context.event.type));
  await inParallel(
    context,
    rules.map((rule) => (part) => applyStreak(part, rule)),
  );
}

async function applyStreak(context: EffectContext, rule: StreakRule): Promise<void> {
  const { tx, event, zone } = context;
  const owner: StreakOwner = { tenantId: event.tenantId, userId: event.userId, key: rule.key };
  const stored = await readStreak(tx, owner);
  const credited = creditDay(event.occurredAt, zone, stored?.guard ?? null);
  const [fresh] = await creditDays(tx, owner, [credited.day]);
  if (!stored || fresh) {
    await advance(context, owner, rule, stored?.state ?? null, credited.day, credited.guard);
  } else if (credited.guard !== stored.guard) {
    await saveGuard(tx, owner, credited.guard);
  }
}

async function advance(context: EffectContext, owner: StreakOwner, rule: StreakRule, before: StreakState | null, day: LocalDay, guard: DayGuard): Promise<void> {
  const { tx, zone } = context;
  let state: StreakState;
  let milestones: MilestoneReached[];
  let step = { freezesSpent: 0, freezesEarned: 0, restarted: false };
  if (before?.lastDay && day < before.lastDay) {
    // A late day: the streak is refolded from every credited day; milestones already granted stay single.
    ({ state, milestones } = foldStreak(await creditedDays(tx, owner), rule, zone));
  } else {
    const result = stepStreak(before ?? EMPTY_STREAK, day, rule, zone);
    ({ state, milestones } = result);
    step = { freezesSpent: result.freezesSpent, freezesEarned: result.freezesEarned, restarted: result.restarted };
  }
  await saveStreak(tx, owner, state, guard);
  context.grants.push(...milestoneGrants(owner, rule, milestones));
  if (state.lastDay) context.atRisk.push(checkAfter(rule.key, state.lastDay, zone, context.rules.atRiskHour));
  context.updates.push({
    event: 'streak:updated',
    payload: { key: rule.key, current: state.current, longest: state.longest, freezes: state.freezes, lastDay: state.lastDay ?? day, ...step },
  });
}
