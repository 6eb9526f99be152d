import { matchesEventType, type StreakRule } from '../../contracts/api/rules.js';
import { creditDay, EMPTY_STREAK, foldStreak, stepStreak } from '../../domain/streaks.js';
import { checkAfter } from '../at-risk-checks.js';
import { milestoneGrants, type StreakOwner } from '../../repositories/streaks.js';
import type { EffectContext } from './context.js';

const qualifies = (rule: StreakRule, eventType: string) => rule.eventTypes.length === 0 || rule.eventTypes.some((matcher) => matchesEventType(matcher, eventType));

/** Credits the event's day to every streak it qualifies for, granting milestone rewards once per run. */
export async function applyStreaks(context: EffectContext): Promise<void> {
  if (!context.countsForItsDay) return;
  for (const rule of context.rules.streaks) {
    if (qualifies(rule, context.event.type)) await applyStreak(context, rule);
  }
}

async function applyStreak(context: EffectContext, rule: StreakRule): Promise<void> {
  const { books, event, zone } = context;
  const owner: StreakOwner = { tenantId: event.tenantId, userId: event.userId, key: rule.key };
  const stored = books.streaks.get(owner);
  const { day, guard } = creditDay(event.occurredAt, zone, stored?.guard ?? null);
  if (stored && (await books.streaks.isCredited(owner, day))) {
    if (guard !== stored.guard) books.streaks.save(owner, stored.state, guard);
    return;
  }
  books.streaks.credit(owner, day);
  const before = stored?.state ?? EMPTY_STREAK;
  let step = { freezesSpent: 0, freezesEarned: 0, restarted: false };
  let result;
  if (before.lastDay && day < before.lastDay) {
    // A late day: the streak is refolded from every credited day; milestones already granted stay single.
    result = foldStreak(await books.streaks.allDays(owner), rule, zone);
  } else {
    result = stepStreak(before, day, rule, zone);
    step = { freezesSpent: result.freezesSpent, freezesEarned: result.freezesEarned, restarted: result.restarted };
  }
  const { state, milestones } = result;
  books.streaks.save(owner, state, guard);
  context.grants.push(...milestoneGrants(owner, rule, milestones));
  if (state.lastDay) context.atRisk.push(checkAfter(rule.key, state.lastDay, zone, context.rules.atRiskHour));
  context.updates.push({
    event: 'streak:updated',
    payload: { key: rule.key, current: state.current, longest: state.longest, freezes: state.freezes, lastDay: state.lastDay ?? day, ...step },
  });
}
