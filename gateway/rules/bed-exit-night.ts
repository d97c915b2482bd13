import { z } from 'zod';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import type { AlertSignal } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged, type StepResult } from './contract.js';
import { formatLocalTime, inLocalWindow, MINUTE } from './local-time.js';

// Out of bed at night and not back: inside the plan's night window (local time, plan.timeZone) the bed
// sensor reports an exit — `bed_occupied` going from true to false, or the device's own `bed_exit` alarm —
// and no return (`bed_occupied` true, `bed_exit` cleared) follows within `minutes` → one high care alert for
// that sensor (a fall in the bathroom, or wandering). The return clears it. The deadline is a persisted
// engine timer, so a restart in between still raises it on time.
//
// Defaults, against the simulator (simulators/devices/home-plan.ts `nights`, sensor.ts `bed`):
// - `minutes` 20: normal night trips last 3–10 minutes; the bed-exit-no-return scenario expects the alert
//   5–45 min after the exit, and a sensor that only sends its own `bed_exit` alarm (15 min after the exit
//   in the simulator) still raises by 35 min.
// - `morningMinutes` 30: an exit in the last 30 minutes of the night is getting up (the simulated patient
//   gets up 06:30–07:30; the default night ends 07:00), not a night exit.
// - `bed_occupied` false counts only after a true: a sensor reporting its state on connect at 22:00, before
//   the patient went to bed, is not an exit. The `bed_exit` alarm counts on its own.
// Minutes are elapsed minutes (a DST night changes nothing); events are ordered by their own times.

export const BedExitNightParamsSchema = z.object({
  minutes: z.int().min(1).max(240).default(20),
  morningMinutes: z.int().min(0).max(240).default(30),
});
export type BedExitNightParams = z.infer<typeof BedExitNightParamsSchema>;

export interface BedExitNightState {
  /** Last known occupancy; null = not heard yet. */
  readonly occupied: boolean | null;
  /** Event time of the current exit, while out of bed. */
  readonly outSince: number | null;
  readonly raised: boolean;
  /** Event time of the last exit or return: older events (late copies) change nothing. */
  readonly lastAt: number | null;
}

type Bed = 'exit' | 'exit-if-in' | 'return';

function bedSignal(event: CanonicalEvent): Bed | undefined {
  const b = event.body;
  if (b.type === 'alarm' && b.kind === 'bed_exit') return b.state === 'active' ? 'exit' : 'return';
  if (b.type === 'measurement' && b.readings.bed_occupied !== undefined) return b.readings.bed_occupied ? 'return' : 'exit-if-in';
  return undefined;
}

const timerKey = (outSince: number): string => `out:${outSince}`;

export const bedExitNightRule = defineRule<BedExitNightState, BedExitNightParams>({
  id: 'bed-exit-night',
  version: 1,
  defaults: BedExitNightParamsSchema,
  initial: () => ({ occupied: null, outSince: null, raised: false, lastAt: null }),
  subjects(input) {
    if (input.type !== 'event' || input.event.deviceId === '') return [];
    return bedSignal(input.event) === undefined ? [] : [input.event.deviceId];
  },
  step(state, input, ctx): StepResult<BedExitNightState> {
    const { plan, params } = ctx;
    if (input.type === 'timer') {
      // A key that is not the current exit's belongs to an earlier one (returned since): ignore it.
      if (state.outSince === null || state.raised || input.key !== timerKey(state.outSince)) return unchanged(state);
      const signal: AlertSignal = {
        action: 'raise',
        rule: 'bed-exit-night',
        homeId: plan.homeId,
        subject: input.subject,
        severity: 'high',
        kind: 'care',
        title: 'Out of bed at night, not back',
        at: ctx.now,
        evidence: [{ note: `out of bed since ${formatLocalTime(state.outSince, plan.timeZone)}, not back within ${params.minutes} min` }],
      };
      return { state: { ...state, raised: true }, signals: [signal], timers: [] };
    }
    if (input.type !== 'event') return unchanged(state);
    const { event } = input;
    const what = bedSignal(event);
    if (what === undefined || event.homeId === null || event.deviceId === '') return unchanged(state);
    const t = eventTime(event, ctx.now);
    if (state.lastAt !== null && t < state.lastAt) return unchanged(state);

    if (what === 'return') {
      if (state.occupied === true && state.outSince === null) return unchanged(state);
      const next: BedExitNightState = { occupied: true, outSince: null, raised: false, lastAt: t };
      if (state.outSince === null) return unchanged(next);
      const cancel = [timerKey(state.outSince)];
      if (!state.raised) return { state: next, signals: [], timers: [], cancel };
      const signal: AlertSignal = {
        action: 'clear',
        rule: 'bed-exit-night',
        homeId: event.homeId,
        subject: event.deviceId,
        severity: 'high',
        kind: 'care',
        title: 'Back in bed',
        at: ctx.now,
        evidence: [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }],
      };
      return { state: next, signals: [signal], timers: [], cancel };
    }
    // Already out (the device's own alarm after the mat went empty; a repeated state report): same exit.
    if (state.outSince !== null) return state.occupied === false ? unchanged(state) : unchanged({ ...state, occupied: false });
    if (what === 'exit-if-in' && state.occupied !== true)
      return state.occupied === false ? unchanged(state) : unchanged({ ...state, occupied: false });
    const next: BedExitNightState = { occupied: false, outSince: t, raised: false, lastAt: t };
    const night =
      inLocalWindow(t, plan.night, plan.timeZone) && inLocalWindow(t + params.morningMinutes * MINUTE, plan.night, plan.timeZone);
    if (!night) return unchanged(next);
    return { state: next, signals: [], timers: [{ at: t + params.minutes * MINUTE, key: timerKey(t) }] };
  },
});
