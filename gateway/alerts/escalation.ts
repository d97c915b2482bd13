import { z } from 'zod';
import { TeamIdSchema } from '../devices/ids.js';
import { AlertError } from './model.js';
import type { Severity } from './signal.js';

/*
 * The escalation policy and the pure arithmetic of deadlines. No clock and no timers here: store.tick(now)
 * asks dueSteps() what is due at `now` and persists the answer, so a late or repeated tick fires each step
 * exactly once, and a restart picks up where the database says it was.
 *
 * Timeline of an unacknowledged alert raised at R with acknowledge deadline D and reminder interval I:
 *   chain[0] (team) is notified by the `raised` transition itself;
 *   chain[i] is notified at R + i·D (`escalated`), each level once;
 *   between notifications the current level is reminded every I (`reminded`), on a grid anchored at the last
 *   notification, until someone acknowledges. A tick that comes late fires one reminder, not a burst.
 * Independently, an alert still unresolved at its follow-up deadline gets one `overdue` transition.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const Duration = z.number().int().positive();
const perSeverity = <T extends z.ZodType>(value: T) => z.object({ critical: value, high: value, medium: value, low: value });
const LevelSchema = z.string().regex(/^[a-z][a-z0-9_]{1,31}$/, { error: 'escalation level must be 2–32 characters: a-z, 0-9 or "_"' });

export const EscalationPolicySchema = z.object({
  /** From raise to the first escalation; also the step between further escalation levels. */
  ackDeadlineMs: perSeverity(Duration),
  /** From raise to "followed up late" (resolve deadline): the limit the supervisory report checks. */
  followUpDeadlineMs: perSeverity(Duration),
  /** null switches reminders off for that severity. */
  reminderIntervalMs: perSeverity(Duration.nullable()),
  chain: z
    .array(LevelSchema)
    .min(1)
    .refine((c) => new Set(c).size === c.length, { error: 'escalation levels must be unique' }),
  /** Where alerts without a home (gateway health) or for a home unknown to the registry go. */
  opsTeamId: TeamIdSchema,
  /** Evidence kept per alert; a chatty device must not grow a row without bound. */
  evidenceLimit: z.number().int().min(1).max(200),
});
export type EscalationPolicy = z.infer<typeof EscalationPolicySchema>;

/** Overrides: any field, and any single severity of a per-severity field. */
export type EscalationPolicyInput = Partial<
  Omit<EscalationPolicy, 'ackDeadlineMs' | 'followUpDeadlineMs' | 'reminderIntervalMs'> & {
    ackDeadlineMs: Partial<EscalationPolicy['ackDeadlineMs']>;
    followUpDeadlineMs: Partial<EscalationPolicy['followUpDeadlineMs']>;
    reminderIntervalMs: Partial<EscalationPolicy['reminderIntervalMs']>;
  }
>;

// Issue 5 defaults. Acknowledge: how long a team may take to react; follow-up: how long until someone has
// been there or called. Reminders are well inside the acknowledge deadline so a missed notification is
// repeated before it escalates.
export const DEFAULT_POLICY: EscalationPolicy = Object.freeze({
  ackDeadlineMs: { critical: 5 * MINUTE, high: 15 * MINUTE, medium: 60 * MINUTE, low: 24 * HOUR },
  followUpDeadlineMs: { critical: 30 * MINUTE, high: 2 * HOUR, medium: 8 * HOUR, low: 72 * HOUR },
  reminderIntervalMs: { critical: 2 * MINUTE, high: 5 * MINUTE, medium: 20 * MINUTE, low: 6 * HOUR },
  chain: ['team', 'team_lead', 'response_centre'],
  opsTeamId: 'ops',
  evidenceLimit: 20,
});

/** Validated once and frozen (STYLE: config is validated at start-up, then immutable). */
export function resolvePolicy(input: EscalationPolicyInput = {}): EscalationPolicy {
  const merged = {
    ...DEFAULT_POLICY,
    ...input,
    ackDeadlineMs: { ...DEFAULT_POLICY.ackDeadlineMs, ...input.ackDeadlineMs },
    followUpDeadlineMs: { ...DEFAULT_POLICY.followUpDeadlineMs, ...input.followUpDeadlineMs },
    reminderIntervalMs: { ...DEFAULT_POLICY.reminderIntervalMs, ...input.reminderIntervalMs },
  };
  const result = EscalationPolicySchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AlertError(
      'TRY_ERR_ALERT_INVALID_POLICY',
      `escalation policy: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`,
    );
  }
  const p = result.data;
  return Object.freeze({ ...p, chain: Object.freeze([...p.chain]) as string[] });
}

/** The persisted part of an unacknowledged alert's schedule, as epoch ms. */
export interface Schedule {
  ackDueAt: number;
  followUpDueAt: number;
  escalationLevel: number;
  nextEscalationAt: number | null;
  nextReminderAt: number | null;
  reminders: number;
}

export function initialSchedule(policy: EscalationPolicy, severity: Severity, at: number): Schedule {
  const ackDueAt = at + policy.ackDeadlineMs[severity];
  const interval = policy.reminderIntervalMs[severity];
  return {
    ackDueAt,
    followUpDueAt: at + policy.followUpDeadlineMs[severity],
    escalationLevel: 0,
    nextEscalationAt: policy.chain.length > 1 ? ackDueAt : null,
    nextReminderAt: interval === null ? null : at + interval,
    reminders: 0,
  };
}

/**
 * A dedupe raised the severity at `at`. Deadlines only ever move earlier: the alert is as urgent as its new
 * severity from now on, but it has also been waiting since it was raised. `acknowledged` alerts keep no
 * escalation schedule, only the follow-up deadline.
 */
export function rescheduleForSeverity(
  policy: EscalationPolicy,
  s: Schedule,
  severity: Severity,
  at: number,
  acknowledged: boolean,
): Schedule {
  const followUpDueAt = Math.min(s.followUpDueAt, at + policy.followUpDeadlineMs[severity]);
  if (acknowledged) return { ...s, followUpDueAt };
  const d = policy.ackDeadlineMs[severity];
  const interval = policy.reminderIntervalMs[severity];
  return {
    ...s,
    followUpDueAt,
    ackDueAt: Math.min(s.ackDueAt, at + d),
    nextEscalationAt: s.nextEscalationAt === null ? null : Math.min(s.nextEscalationAt, at + d),
    nextReminderAt: interval === null ? null : Math.min(s.nextReminderAt ?? Number.POSITIVE_INFINITY, at + interval),
  };
}

export type Step =
  | { type: 'escalated'; levelIndex: number; level: string; dueAt: number }
  | { type: 'reminded'; levelIndex: number; level: string; dueAt: number; reminder: number };

/**
 * What is due at `now` for an unacknowledged alert, and the schedule after it. Every escalation level whose
 * deadline has passed fires (in order, each once: a late tick must not skip the team lead on the audit
 * trail). A reminder is only sent when no escalation was, since an escalation notifies anyway.
 */
export function dueSteps(policy: EscalationPolicy, severity: Severity, s: Schedule, now: number): { steps: Step[]; schedule: Schedule } {
  const steps: Step[] = [];
  const d = policy.ackDeadlineMs[severity];
  const interval = policy.reminderIntervalMs[severity];
  let { escalationLevel, nextEscalationAt, nextReminderAt, reminders } = s;
  let lastEscalation: number | undefined;
  while (nextEscalationAt !== null && nextEscalationAt <= now) {
    escalationLevel += 1;
    steps.push({ type: 'escalated', levelIndex: escalationLevel, level: levelName(policy, escalationLevel), dueAt: nextEscalationAt });
    lastEscalation = nextEscalationAt;
    nextEscalationAt = escalationLevel + 1 < policy.chain.length ? nextEscalationAt + d : null;
  }
  if (lastEscalation !== undefined) {
    nextReminderAt = interval === null ? null : nextOnGrid(lastEscalation, interval, now);
  } else if (nextReminderAt !== null && nextReminderAt <= now) {
    reminders += 1;
    steps.push({
      type: 'reminded',
      levelIndex: escalationLevel,
      level: levelName(policy, escalationLevel),
      dueAt: nextReminderAt,
      reminder: reminders,
    });
    nextReminderAt = interval === null ? null : nextOnGrid(nextReminderAt, interval, now);
  }
  return { steps, schedule: { ...s, escalationLevel, nextEscalationAt, nextReminderAt, reminders } };
}

/** The first point start + k·interval (k ≥ 1) strictly after now. */
function nextOnGrid(start: number, interval: number, now: number): number {
  const k = Math.max(1, Math.floor((now - start) / interval) + 1);
  return start + k * interval;
}

/** A policy may have been shortened since the alert escalated: the last level stands in for missing ones. */
export function levelName(policy: EscalationPolicy, index: number): string {
  return policy.chain[Math.min(index, policy.chain.length - 1)] ?? 'team';
}
