import { z } from 'zod';
import { defineRule, eventTime, unchanged } from './contract.js';
import { doorOpenness } from './door-left-open.js';
import { inLocalWindow } from './local-time.js';

// Door at night: the door opened, or the lock unlocked, inside the home's night window (local time, from the
// care plan) → one alert for that device, at once (a person with dementia leaving at 03:00 cannot wait for a
// door-left-open timer). Closing or locking the door clears it.

export const DoorNightParamsSchema = z.object({
  /** Whether an unlock alone (no open yet) raises: on for locks that report unlocks before the door opens. */
  unlockRaises: z.boolean().default(true),
});
export type DoorNightParams = z.infer<typeof DoorNightParamsSchema>;

export interface DoorNightState {
  readonly raised: boolean;
}

export const doorNightRule = defineRule<DoorNightState, DoorNightParams>({
  id: 'door-night',
  version: 1,
  defaults: DoorNightParamsSchema,
  initial: () => ({ raised: false }),
  subjects(input) {
    if (input.type !== 'event') return [];
    const b = input.event.body;
    const relevant = doorOpenness(input.event) !== undefined || (b.type === 'lock' && b.kind === 'unlocked');
    return relevant ? [input.event.deviceId] : [];
  },
  step(state, input, ctx) {
    if (input.type !== 'event' || input.event.homeId === null) return unchanged(state);
    const { event } = input;
    const b = event.body;
    const open = doorOpenness(event);
    const unlocked = b.type === 'lock' && b.kind === 'unlocked' && ctx.params.unlockRaises;
    const evidence = [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }];
    const base = {
      rule: 'door-night' as const,
      homeId: event.homeId,
      subject: event.deviceId,
      severity: 'high' as const,
      kind: 'care' as const,
    };
    if ((open === true || unlocked) && !state.raised) {
      if (!inLocalWindow(eventTime(event, ctx.now), ctx.plan.night, ctx.plan.timeZone)) return unchanged(state);
      const title = open === true ? 'Door opened at night' : 'Door unlocked at night';
      return { state: { raised: true }, signals: [{ ...base, action: 'raise', title, at: ctx.now, evidence }], timers: [] };
    }
    if (open === false && state.raised) {
      return { state: { raised: false }, signals: [{ ...base, action: 'clear', title: 'Door closed', at: ctx.now, evidence }], timers: [] };
    }
    return unchanged(state);
  },
});
