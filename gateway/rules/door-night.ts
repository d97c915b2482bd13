import { z } from 'zod';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import { defineRule, eventTime, unchanged, type StepResult } from './contract.js';
import { DOOR_SUBJECT, doorOpenness } from './door-left-open.js';
import { inLocalWindow, MINUTE } from './local-time.js';

// Door at night: the door opened, or the lock unlocked from inside, inside the home's night window (local time,
// from the care plan) → one alert for the home's door, at once (a person with dementia leaving at 03:00 cannot
// wait for a door-left-open timer). Closing or locking the door clears it.
//
// Not an alert: staff at work. A lock unlocked with a staff credential (RFID tag, keypad code, key, app) means
// staff are in the home until the door is locked again (at most `staffMaxMinutes`): their openings — arriving at
// 21:55 and leaving at 22:10 — are not the patient leaving. A planned visit (care plan) counts the same. State is
// per home, so a door contact and the lock on the same door agree, and the alert's subject is `door` (one alert
// for the door, whichever device saw it first; evidence names the devices).

export const DoorNightParamsSchema = z.object({
  /** Whether an unlock from inside (no open yet) raises: on for locks that report unlocks before the door opens. */
  unlockRaises: z.boolean().default(true),
  /** How long a staff unlock covers openings when nobody locks the door behind them. */
  staffMaxMinutes: z.int().min(1).max(600).default(120),
  /** Minutes before and after a planned visit during which openings are staff. */
  visitMarginMinutes: z.int().min(0).max(240).default(15),
});
export type DoorNightParams = z.infer<typeof DoorNightParamsSchema>;

export interface DoorNightState {
  readonly raised: boolean;
  /** Epoch ms a staff credential last unlocked the door, while it has not been locked since. */
  readonly staffSince: number | null;
}

const STAFF_METHODS = new Set(['key', 'keypad', 'app', 'rfid']);

function relevant(event: CanonicalEvent): boolean {
  const b = event.body;
  return doorOpenness(event) !== undefined || (b.type === 'lock' && (b.kind === 'unlocked' || b.kind === 'locked'));
}

export const doorNightRule = defineRule<DoorNightState, DoorNightParams>({
  id: 'door-night',
  version: 2,
  defaults: DoorNightParamsSchema,
  initial: () => ({ raised: false, staffSince: null }),
  subjects(input) {
    return input.type === 'event' && relevant(input.event) ? [DOOR_SUBJECT] : [];
  },
  step(state, input, ctx): StepResult<DoorNightState> {
    if (input.type !== 'event' || input.event.homeId === null) return unchanged(state);
    const { event } = input;
    const b = event.body;
    const t = eventTime(event, ctx.now);
    const { params, plan } = ctx;

    if (b.type === 'lock' && b.kind === 'unlocked' && b.method !== undefined && STAFF_METHODS.has(b.method))
      return unchanged({ ...state, staffSince: t });
    const staffHere =
      (state.staffSince !== null && t - state.staffSince <= params.staffMaxMinutes * MINUTE) ||
      plan.visits.some(
        (v) => Date.parse(v.from) - params.visitMarginMinutes * MINUTE <= t && t < Date.parse(v.to) + params.visitMarginMinutes * MINUTE,
      );
    const locked = b.type === 'lock' && b.kind === 'locked';
    const open = doorOpenness(event);
    const unlocked = b.type === 'lock' && b.kind === 'unlocked' && params.unlockRaises;
    const evidence = [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }];
    const base = {
      rule: 'door-night' as const,
      homeId: event.homeId,
      subject: DOOR_SUBJECT,
      severity: 'high' as const,
      kind: 'care' as const,
    };
    const next: DoorNightState = { ...state, staffSince: locked ? null : state.staffSince };

    if ((open === true || unlocked) && !state.raised && !staffHere) {
      if (!inLocalWindow(t, plan.night, plan.timeZone)) return unchanged(next);
      const title = open === true ? 'Door opened at night' : 'Door unlocked at night';
      return { state: { ...next, raised: true }, signals: [{ ...base, action: 'raise', title, at: ctx.now, evidence }], timers: [] };
    }
    if (open === false && state.raised) {
      const title = 'Door closed';
      return { state: { ...next, raised: false }, signals: [{ ...base, action: 'clear', title, at: ctx.now, evidence }], timers: [] };
    }
    return unchanged(next);
  },
});
