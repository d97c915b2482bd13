import { z } from 'zod';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import { defineRule, eventTime, unchanged, type StepResult } from './contract.js';
import { MINUTE } from './local-time.js';

// Door left open: a lock or door contact reports open, and no close follows within N minutes (default 10)
// → one alert for the home's door (subject `door`: the lock and a contact on the same door are one alert, the
// evidence names the device); closing clears it. State and the deadline are per device; the deadline is a
// persisted engine timer, so a restart in between still raises it on time.

/** The alert subject of the door rules: a home's entrance, whichever device reports it. */
export const DOOR_SUBJECT = 'door';

export const DoorLeftOpenParamsSchema = z.object({
  minutes: z
    .int()
    .min(1)
    .max(24 * 60)
    .default(10),
});
export type DoorLeftOpenParams = z.infer<typeof DoorLeftOpenParamsSchema>;

export interface DoorLeftOpenState {
  /** Epoch ms the door was first reported open, while open. */
  readonly openSince: number | null;
  readonly raised: boolean;
}

/** true = opened, false = closed, undefined = says nothing about the door. */
export function doorOpenness(event: CanonicalEvent): boolean | undefined {
  const b = event.body;
  if (b.type === 'lock') {
    // A lock reporting `left_open` is the lock's own (shorter or longer) timer: still just "open" for us.
    if (b.kind === 'opened' || b.kind === 'left_open') return true;
    // A bolt thrown means the door is shut in practice; `closed` is the contact itself.
    if (b.kind === 'closed' || b.kind === 'locked') return false;
    return undefined;
  }
  if (b.type === 'measurement') return b.readings.contact_open;
  return undefined;
}

const timerKey = (openSince: number): string => `open:${openSince}`;

export const doorLeftOpenRule = defineRule<DoorLeftOpenState, DoorLeftOpenParams>({
  id: 'door-left-open',
  version: 1,
  defaults: DoorLeftOpenParamsSchema,
  initial: () => ({ openSince: null, raised: false }),
  subjects(input) {
    if (input.type !== 'event') return [];
    return doorOpenness(input.event) === undefined ? [] : [input.event.deviceId];
  },
  step(state, input, ctx): StepResult<DoorLeftOpenState> {
    if (input.type === 'timer') {
      // A timer whose key no longer matches belongs to an earlier opening (closed since): ignore it.
      if (state.openSince === null || state.raised || input.key !== timerKey(state.openSince)) return unchanged(state);
      const homeId = ctx.plan.homeId;
      return {
        state: { ...state, raised: true },
        signals: [
          {
            action: 'raise',
            rule: 'door-left-open',
            homeId,
            subject: DOOR_SUBJECT,
            severity: 'medium',
            kind: 'care',
            title: 'Door left open',
            at: ctx.now,
            evidence: [{ deviceId: input.subject, note: `open for ${ctx.params.minutes} min or more` }],
          },
        ],
        timers: [],
      };
    }
    if (input.type !== 'event') return unchanged(state);
    const open = doorOpenness(input.event);
    if (open === undefined || input.event.homeId === null) return unchanged(state);
    if (open) {
      if (state.openSince !== null) return unchanged(state);
      const since = eventTime(input.event, ctx.now);
      return {
        state: { openSince: since, raised: false },
        signals: [],
        timers: [{ at: since + ctx.params.minutes * MINUTE, key: timerKey(since) }],
      };
    }
    if (state.openSince === null) return unchanged(state);
    const cancel = [timerKey(state.openSince)];
    if (!state.raised) return { state: { openSince: null, raised: false }, signals: [], timers: [], cancel };
    return {
      state: { openSince: null, raised: false },
      signals: [
        {
          action: 'clear',
          rule: 'door-left-open',
          homeId: input.event.homeId,
          subject: DOOR_SUBJECT,
          severity: 'medium',
          kind: 'care',
          title: 'Door closed',
          at: ctx.now,
          evidence: [{ eventId: input.event.eventId, deviceId: input.event.deviceId, observedAt: input.event.observedAt }],
        },
      ],
      timers: [],
      cancel,
    };
  },
});
