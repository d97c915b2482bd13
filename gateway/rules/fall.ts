import { z } from 'zod';
import { defineRule, eventTime, unchanged } from './contract.js';

// Fall: a fall sensor's active alarm raises a critical care alert for that device; the device's `cleared`
// clears it. Falls are often one-shot (the sensor never sends `cleared`), so a repeat is deduplicated only
// inside a short window (the bus delivers at least once; sensors retransmit); a later fall raises again, and
// the alert lifecycle keeps one open alert per (home, rule, subject).

export const FallParamsSchema = z.object({
  /** A second `active` from the same device within this many seconds is the same fall. */
  repeatAfterSeconds: z.int().min(0).max(3600).default(60),
});
export type FallParams = z.infer<typeof FallParamsSchema>;

export interface FallState {
  /** Epoch ms of the last raise, while the alarm is active. */
  readonly activeSince: number | null;
  readonly lastEventId: string | null;
}

export const fallRule = defineRule<FallState, FallParams>({
  id: 'fall',
  version: 1,
  defaults: FallParamsSchema,
  initial: () => ({ activeSince: null, lastEventId: null }),
  subjects(input) {
    if (input.type !== 'event') return [];
    const b = input.event.body;
    return b.type === 'alarm' && b.kind === 'fall' ? [input.event.deviceId] : [];
  },
  step(state, input, ctx) {
    if (input.type !== 'event') return unchanged(state);
    const { event } = input;
    const body = event.body;
    if (body.type !== 'alarm' || body.kind !== 'fall' || event.homeId === null) return unchanged(state);
    if (event.eventId === state.lastEventId) return unchanged(state);
    const base = {
      rule: 'fall' as const,
      homeId: event.homeId,
      subject: event.deviceId,
      severity: 'critical' as const,
      kind: 'care' as const,
      at: ctx.now,
      evidence: [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }],
    };
    const t = eventTime(event, ctx.now);
    if (body.state === 'active') {
      const repeat = state.activeSince !== null && t - state.activeSince < ctx.params.repeatAfterSeconds * 1000;
      if (repeat) return unchanged({ ...state, lastEventId: event.eventId });
      return {
        state: { activeSince: t, lastEventId: event.eventId },
        signals: [{ ...base, action: 'raise', title: 'Fall detected' }],
        timers: [],
      };
    }
    if (state.activeSince === null) return unchanged({ ...state, lastEventId: event.eventId });
    return {
      state: { activeSince: null, lastEventId: event.eventId },
      signals: [{ ...base, action: 'clear', title: 'Fall alarm cleared' }],
      timers: [],
    };
  },
});
