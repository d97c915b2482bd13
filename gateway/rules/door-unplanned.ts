import { z } from 'zod';
import { LockMethodSchema } from '../../adapters/canonical.js';
import type { AlertSignal } from '../alerts/signal.js';
import type { CarePlan } from '../care/model.js';
import { defineRule, eventTime, instantMs, unchanged } from './contract.js';
import { inLocalWindow, MINUTE } from './local-time.js';

// Door unlocked with no planned visit: the lock is unlocked from outside (a key, keypad code, app or tag —
// not the thumb-turn or the auto-lock, which are the patient inside or the lock itself) and no planned visit
// (CarePlan.visits, instants) is within `marginMinutes` of it → one medium care alert for that lock. Staff
// arrive early and leave late, hence the margin on both sides.
// - Only for homes with a visit plan: with no visits at all the rule stays silent (README, signal.ts).
// - Not inside the night window: door-night already raises, higher, for any unlock at night.
// - An unlock that names no method is not counted (we cannot tell outside from inside).
// Clears when the lock reports `locked` again; repeats while raised are the same alert.

export const DoorUnplannedParamsSchema = z.object({
  marginMinutes: z
    .int()
    .min(0)
    .max(12 * 60)
    .default(15),
  /** Unlock methods that mean "from outside". */
  methods: z.array(LockMethodSchema).default(['key', 'keypad', 'app', 'rfid']),
});
export type DoorUnplannedParams = z.infer<typeof DoorUnplannedParamsSchema>;

export interface DoorUnplannedState {
  /** Event time of the unlock that raised, while raised. */
  readonly raisedAt: number | null;
  /** Event time of the last clear: a late copy of an earlier unlock must not raise again. */
  readonly clearedAt: number | null;
}

/** Whether a planned visit, widened by the margin on both sides, covers the instant. Malformed visits cover nothing. */
export function inPlannedVisit(t: number, visits: CarePlan['visits'], marginMs: number): boolean {
  return visits.some((v) => {
    const from = instantMs(v.from, NaN);
    const to = instantMs(v.to, NaN);
    return Number.isFinite(from) && Number.isFinite(to) && t >= from - marginMs && t <= to + marginMs;
  });
}

export const doorUnplannedRule = defineRule<DoorUnplannedState, DoorUnplannedParams>({
  id: 'door-unplanned',
  version: 1,
  defaults: DoorUnplannedParamsSchema,
  initial: () => ({ raisedAt: null, clearedAt: null }),
  subjects(input) {
    if (input.type !== 'event' || input.event.deviceId === '') return [];
    const b = input.event.body;
    return b.type === 'lock' && (b.kind === 'unlocked' || b.kind === 'locked') ? [input.event.deviceId] : [];
  },
  step(state, input, ctx) {
    if (input.type !== 'event') return unchanged(state);
    const { event } = input;
    const b = event.body;
    if (b.type !== 'lock' || event.homeId === null || event.deviceId === '') return unchanged(state);
    const t = eventTime(event, ctx.now);
    const base = {
      rule: 'door-unplanned' as const,
      homeId: event.homeId,
      subject: event.deviceId,
      severity: 'medium' as const,
      kind: 'care' as const,
      at: ctx.now,
    };
    if (b.kind === 'locked') {
      if (state.raisedAt === null || t < state.raisedAt) return unchanged(state);
      const clear: AlertSignal = {
        ...base,
        action: 'clear',
        title: 'Door locked',
        evidence: [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }],
      };
      return { state: { raisedAt: null, clearedAt: t }, signals: [clear], timers: [] };
    }
    if (b.kind !== 'unlocked' || b.method === undefined || !ctx.params.methods.includes(b.method)) return unchanged(state);
    const { plan } = ctx;
    if (plan.visits.length === 0 || state.raisedAt !== null || (state.clearedAt !== null && t < state.clearedAt)) return unchanged(state);
    if (inLocalWindow(t, plan.night, plan.timeZone)) return unchanged(state);
    if (inPlannedVisit(t, plan.visits, ctx.params.marginMinutes * MINUTE)) return unchanged(state);
    const raise: AlertSignal = {
      ...base,
      action: 'raise',
      title: 'Door unlocked outside planned visits',
      // The method only: a credential reference is opaque, but it still points at one staff member.
      evidence: [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt, note: `unlocked by ${b.method}` }],
    };
    return { state: { raisedAt: t, clearedAt: state.clearedAt }, signals: [raise], timers: [] };
  },
});
