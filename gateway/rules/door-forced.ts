import { z } from 'zod';
import { SeveritySchema, type AlertSignal } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged } from './contract.js';
import { inLocalWindow } from './local-time.js';

// Door forced: the lock reports the door forced open past its bolt → one care alert for that lock, at once.
// High by day, critical inside the plan's night window: a frail patient alone at night with a door that was
// forced is the worst case, and staff do not force doors at night.
//
// Clears when the lock reports `locked` again (any method, after the forcing). A closed door does not clear
// it: a forced door that was pushed shut (simulators/devices/home-plan.ts: the bolt position is unchanged,
// the door is closed) may have someone inside behind it; locking again means someone secured the door.
// Repeats while raised are the same forcing (Zigbee2MQTT repeats `door_state: error_forced_open` in every
// message of the lock, adapters/zigbee2mqtt.ts).

export const DoorForcedParamsSchema = z.object({
  severity: SeveritySchema.default('high'),
  /** Inside the plan's night window (local time). */
  nightSeverity: SeveritySchema.default('critical'),
});
export type DoorForcedParams = z.infer<typeof DoorForcedParamsSchema>;

export interface DoorForcedState {
  /** Event time of the forcing that raised, while raised. */
  readonly forcedAt: number | null;
  /** Event time of the last clear: a late copy of an earlier `forced` must not raise again. */
  readonly clearedAt: number | null;
}

export const doorForcedRule = defineRule<DoorForcedState, DoorForcedParams>({
  id: 'door-forced',
  version: 1,
  defaults: DoorForcedParamsSchema,
  initial: () => ({ forcedAt: null, clearedAt: null }),
  subjects(input) {
    if (input.type !== 'event' || input.event.deviceId === '') return [];
    const b = input.event.body;
    return b.type === 'lock' && (b.kind === 'forced' || b.kind === 'locked') ? [input.event.deviceId] : [];
  },
  step(state, input, ctx) {
    if (input.type !== 'event') return unchanged(state);
    const { event } = input;
    const b = event.body;
    if (b.type !== 'lock' || event.homeId === null || event.deviceId === '') return unchanged(state);
    const t = eventTime(event, ctx.now);
    const night = inLocalWindow(t, ctx.plan.night, ctx.plan.timeZone);
    const base = {
      rule: 'door-forced' as const,
      homeId: event.homeId,
      subject: event.deviceId,
      kind: 'care' as const,
      at: ctx.now,
      evidence: [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }],
    };
    if (b.kind === 'forced') {
      if (state.forcedAt !== null || (state.clearedAt !== null && t < state.clearedAt)) return unchanged(state);
      const signal: AlertSignal = {
        ...base,
        action: 'raise',
        severity: night ? ctx.params.nightSeverity : ctx.params.severity,
        title: night ? 'Door forced open at night' : 'Door forced open',
      };
      return { state: { forcedAt: t, clearedAt: state.clearedAt }, signals: [signal], timers: [] };
    }
    if (b.kind !== 'locked' || state.forcedAt === null || t < state.forcedAt) return unchanged(state);
    const signal: AlertSignal = { ...base, action: 'clear', severity: ctx.params.severity, title: 'Door locked again' };
    return { state: { forcedAt: null, clearedAt: t }, signals: [signal], timers: [] };
  },
});
