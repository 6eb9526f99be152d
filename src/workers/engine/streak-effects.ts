import { matchesEventType, type StreakRule } from '../../shared/api/rules.js';
import { atLocalTime, nextLocalDay, type LocalDay } from '../../shared/engine/calendar.js';
import { creditDay, EMPTY_STREAK, foldStreak, stepStreak, type DayGuard, type MilestoneReached, type StreakState } from '../../shared/engine/streaks.js';
import type { EffectContext } from './context.js';

interface StreakRow {
  current: number;
  longest: number;
  freezes: number;
  last_day: string;
  run_start: string;
  last_event_at: string;
  anchor_day: string;
  anchor_start: string;
}

const qualifies = (rule: StreakRule, eventType: string) => rule.eventTypes.length === 0 || rule.eventTypes.some((matcher) => matchesEventType(matcher, eventType));

/** Credits the event's day to every streak it qualifies for, granting milestone rewards once per run. */
export async function applyStreaks(context: EffectContext): Promise<void> {
  if (!context.countsForItsDay) return;
  for (const rule of context.rules.streaks) {
    if (qualifies(rule, context.event.type)) await applyStreak(context, rule);
  }
}

async function applyStreak(context: EffectContext, rule: StreakRule): Promise<void> {
  const { tx, event, zone } = context;
  // Timestamps and dates arrive as strings: drizzle replaces postgres.js's parsers on the shared client.
  const [row] = await tx<StreakRow[]>`
    select current, longest, freezes, last_day, run_start, last_event_at, anchor_day, anchor_start
    from streaks where user_id = ${event.userId} and streak_key = ${rule.key}`;
  const guard: DayGuard | null = row
    ? { lastDay: row.last_day, lastAt: new Date(row.last_event_at), anchorDay: row.anchor_day, anchorStart: new Date(row.anchor_start) }
    : null;
  const credited = creditDay(event.occurredAt, zone, guard);
  const [fresh] = await tx`
    insert into streak_days (user_id, streak_key, day) values (${event.userId}, ${rule.key}, ${credited.day})
    on conflict do nothing returning day`;
  if (!row || fresh) {
    const before: StreakState | null = row
      ? { current: row.current, longest: row.longest, freezes: row.freezes, lastDay: row.last_day, runStart: row.run_start }
      : null;
    await advance(context, rule, before, credited.day, credited.guard);
  } else if (credited.guard !== guard) {
    await saveGuard(context, rule, credited.guard);
  }
}

async function advance(context: EffectContext, rule: StreakRule, before: StreakState | null, day: LocalDay, guard: DayGuard): Promise<void> {
  const { tx, event, zone } = context;
  let state: StreakState;
  let milestones: MilestoneReached[];
  let step = { freezesSpent: 0, freezesEarned: 0, restarted: false };
  if (before?.lastDay && day < before.lastDay) {
    // A late day: the streak is refolded from every credited day; milestones already granted stay single.
    const days = await tx<{ day: string }[]>`select day from streak_days where user_id = ${event.userId} and streak_key = ${rule.key}`;
    ({ state, milestones } = foldStreak(
      days.map((d) => d.day),
      rule,
      zone,
    ));
  } else {
    const result = stepStreak(before ?? EMPTY_STREAK, day, rule, zone);
    ({ state, milestones } = result);
    step = { freezesSpent: result.freezesSpent, freezesEarned: result.freezesEarned, restarted: result.restarted };
  }
  await tx`
    insert into streaks (user_id, streak_key, tenant_id, current, longest, freezes, last_day, run_start, last_event_at, anchor_day, anchor_start)
    values (${event.userId}, ${rule.key}, ${event.tenantId}, ${state.current}, ${state.longest}, ${state.freezes}, ${state.lastDay}, ${state.runStart},
            ${guard.lastAt.toISOString()}, ${guard.anchorDay}, ${guard.anchorStart.toISOString()})
    on conflict (user_id, streak_key) do update set current = excluded.current, longest = excluded.longest, freezes = excluded.freezes,
      last_day = excluded.last_day, run_start = excluded.run_start, last_event_at = excluded.last_event_at,
      anchor_day = excluded.anchor_day, anchor_start = excluded.anchor_start, updated_at = now()`;
  for (const milestone of milestones) {
    const spec = rule.milestones.find((candidate) => candidate.days === milestone.days);
    if (spec) {
      context.grants.push({ tenantId: event.tenantId, userId: event.userId, source: 'streak', sourceKey: `${rule.key}:${milestone.runStart}:${milestone.days}`, spec: spec.reward });
    }
  }
  if (state.lastDay) {
    // The next local day is at risk from the tenant's at-risk hour unless an event comes first.
    const next = nextLocalDay(state.lastDay, zone);
    context.atRisk.push({ streakKey: rule.key, day: next, at: atLocalTime(next, zone, context.rules.atRiskHour) });
  }
  context.updates.push({
    event: 'streak:updated',
    payload: { key: rule.key, current: state.current, longest: state.longest, freezes: state.freezes, lastDay: state.lastDay ?? day, ...step },
  });
}

async function saveGuard(context: EffectContext, rule: StreakRule, guard: DayGuard): Promise<void> {
  await context.tx`
    update streaks set last_event_at = ${guard.lastAt.toISOString()}, anchor_day = ${guard.anchorDay}, anchor_start = ${guard.anchorStart.toISOString()}
    where user_id = ${context.event.userId} and streak_key = ${rule.key}`;
}
