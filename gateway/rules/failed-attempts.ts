import { z } from 'zod';
import type { AlertSignal } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged, type StepResult } from './contract.js';
import { MINUTE } from './local-time.js';

// Failed attempts: `count` failed unlock attempts (wrong code, unknown tag) at one lock within `withinMinutes`
// → one medium care alert for that lock (someone is trying to get in who should not, or the patient is
// locked out / confused at the keypad). Defaults 3 within 10 min: the simulator's failed-attempts incident
// sends 3 unless told otherwise (simulators/devices/home-plan.ts; the shipped scenario sends 5, 20–60 s
// apart) and a normal day sends none; a staff member mistyping a code once or twice and then getting in
// stays below it. Later attempts while raised are the same alert (they only push the quiet period on).
//
// Clears on a successful unlock after the last attempt (staff are in, or the person got in), or after
// `quietMinutes` without another attempt (a persisted timer). Clearing does not end the alert's escalation:
// the lifecycle keeps it until someone acknowledges it.

export const FailedAttemptsParamsSchema = z.object({
  count: z.int().min(1).max(100).default(3),
  withinMinutes: z
    .int()
    .min(1)
    .max(24 * 60)
    .default(10),
  quietMinutes: z
    .int()
    .min(1)
    .max(24 * 60)
    .default(30),
});
export type FailedAttemptsParams = z.infer<typeof FailedAttemptsParamsSchema>;

export interface FailedAttemptsState {
  /** Recent attempts (event time, event id), oldest first; only those that can still count. */
  readonly attempts: readonly { readonly t: number; readonly id: string }[];
  /** Event time of the latest attempt. */
  readonly lastAttempt: number | null;
  readonly raised: boolean;
  /** Event time of the last successful unlock that reset the count: older attempts (late copies) are ignored. */
  readonly resetAt: number | null;
}

const QUIET = 'quiet';
const MAX_KEPT = 100;

const fresh = (resetAt: number | null): FailedAttemptsState => ({ attempts: [], lastAttempt: null, raised: false, resetAt });

function signal(action: AlertSignal['action'], homeId: string, subject: string, now: number, note: string, title: string): AlertSignal {
  return { action, rule: 'failed-attempts', homeId, subject, severity: 'medium', kind: 'care', title, at: now, evidence: [{ note }] };
}

export const failedAttemptsRule = defineRule<FailedAttemptsState, FailedAttemptsParams>({
  id: 'failed-attempts',
  version: 1,
  defaults: FailedAttemptsParamsSchema,
  initial: () => fresh(null),
  subjects(input) {
    if (input.type !== 'event' || input.event.deviceId === '') return [];
    const b = input.event.body;
    return b.type === 'lock' && (b.kind === 'failed_attempt' || b.kind === 'unlocked') ? [input.event.deviceId] : [];
  },
  step(state, input, ctx): StepResult<FailedAttemptsState> {
    const { count, withinMinutes, quietMinutes } = ctx.params;
    if (input.type === 'timer') {
      if (input.key !== QUIET || !state.raised || state.lastAttempt === null || input.at < state.lastAttempt + quietMinutes * MINUTE)
        return unchanged(state);
      return {
        state: fresh(state.resetAt),
        signals: [
          signal('clear', ctx.plan.homeId, input.subject, ctx.now, `no attempt for ${quietMinutes} min`, 'No more failed attempts'),
        ],
        timers: [],
      };
    }
    if (input.type !== 'event') return unchanged(state);
    const { event } = input;
    const b = event.body;
    if (b.type !== 'lock' || event.homeId === null || event.deviceId === '') return unchanged(state);
    const t = eventTime(event, ctx.now);

    if (b.kind === 'unlocked') {
      // Someone got in. Only an unlock after the attempts counts; with nothing counted there is nothing to reset.
      if (state.attempts.length === 0 && !state.raised) return unchanged(state);
      if (state.lastAttempt !== null && t < state.lastAttempt) return unchanged(state);
      if (!state.raised) return unchanged(fresh(t));
      return {
        state: fresh(t),
        signals: [signal('clear', event.homeId, event.deviceId, ctx.now, 'unlocked after the failed attempts', 'Door unlocked')],
        timers: [],
        cancel: [QUIET],
      };
    }
    if (b.kind !== 'failed_attempt') return unchanged(state);
    if (state.attempts.some((a) => a.id === event.eventId) || (state.resetAt !== null && t < state.resetAt)) return unchanged(state);

    const lastAttempt = Math.max(state.lastAttempt ?? t, t);
    const window = withinMinutes * MINUTE;
    const attempts = [...state.attempts, { t, id: event.eventId }]
      .sort((x, y) => x.t - y.t)
      .filter((a) => a.t >= lastAttempt - window)
      .slice(-MAX_KEPT);
    const quietTimer = { at: lastAttempt + quietMinutes * MINUTE, key: QUIET };
    if (state.raised) return { state: { ...state, attempts, lastAttempt }, signals: [], timers: [quietTimer] };

    let reached = false;
    for (let i = 0; i + count - 1 < attempts.length && !reached; i++) {
      const first = attempts[i];
      const nth = attempts[i + count - 1];
      if (first !== undefined && nth !== undefined && nth.t - first.t <= window) reached = true;
    }
    if (!reached) return unchanged({ ...state, attempts, lastAttempt });
    return {
      state: { ...state, attempts, lastAttempt, raised: true },
      signals: [
        signal(
          'raise',
          event.homeId,
          event.deviceId,
          ctx.now,
          `${attempts.length} failed attempts within ${withinMinutes} min`,
          'Repeated failed unlock attempts',
        ),
      ],
      timers: [quietTimer],
    };
  },
});
