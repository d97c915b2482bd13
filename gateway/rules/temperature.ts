import { z } from 'zod';
import type { AlertSignal, Severity } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged, type RuleContext, type StepResult } from './contract.js';
import { formatLocalTime, MINUTE } from './local-time.js';

// Room temperature (issue 5): a sensor's temperature_c below the low limit or above the high limit for N
// minutes without a reading back inside → an alert for that sensor (medium; high when it has been far out:
// below `farLow` or above `farHigh` — an old person in a room at 11 °C is at risk of hypothermia within hours).
// Back inside the limits by the hysteresis (a Schmitt trigger) ends it and clears the alert, so a room hovering
// at 15.9/16.1 °C is one episode, not an alert every hour. State and the deadline (a persisted engine timer)
// are per sensor device; the subject is the device.
//
// Defaults: 16 °C / 28 °C. Ordinary rooms in the simulator swing between about 18.7 and 23.3 °C
// (simulators/devices/sensor.ts climate), and temperature-low.yaml cools a room to 14.5 °C: below 16 °C some
// 35–40 minutes in, reported every 10 minutes, so N = 30 minutes raises it within about 80 minutes.

export const TemperatureParamsSchema = z
  .object({
    low: z.number().min(-20).max(40).default(16),
    high: z.number().min(-20).max(60).default(28),
    /** How long out of limits before the alert. */
    minutes: z
      .int()
      .min(1)
      .max(24 * 60)
      .default(30),
    /** Degrees back inside a limit before the episode ends. */
    hysteresis: z.number().min(0).max(5).default(0.5),
    /** Beyond these the alert is high. */
    farLow: z.number().min(-60).max(40).default(12),
    farHigh: z.number().min(-20).max(100).default(32),
  })
  .refine((p) => p.low < p.high && p.farLow <= p.low && p.farHigh >= p.high, {
    message: 'expected farLow ≤ low < high ≤ farHigh',
  });
export type TemperatureParams = z.infer<typeof TemperatureParamsSchema>;

type Out = 'low' | 'high';

export interface TemperatureState {
  /** Which limit the room is beyond, while it is. */
  readonly out: Out | null;
  /** Epoch ms of the first reading beyond it. */
  readonly since: number | null;
  /** The coldest (low) or warmest (high) reading of the episode. */
  readonly worst: number | null;
  readonly raised: Severity | null;
  /** Epoch ms of the latest reading that changed the state (older ones, arriving late, are ignored). */
  readonly last: number | null;
}

const timerKey = (since: number): string => `out:${since}`;

/** Where the reading puts the room, given where it was: leaving an episode takes the hysteresis. */
function classify(v: number, was: Out | null, p: TemperatureParams): Out | null {
  if (was === 'low' && v < p.low + p.hysteresis) return 'low';
  if (was === 'high' && v > p.high - p.hysteresis) return 'high';
  return v < p.low ? 'low' : v > p.high ? 'high' : null;
}

const severityOf = (out: Out, worst: number, p: TemperatureParams): Severity =>
  (out === 'low' ? worst < p.farLow : worst > p.farHigh) ? 'high' : 'medium';

const TITLES: Record<Out, Record<'medium' | 'high', string>> = {
  low: { medium: 'Room too cold', high: 'Room very cold' },
  high: { medium: 'Room too hot', high: 'Room very hot' },
};

function signal(
  action: 'raise' | 'clear',
  subject: string,
  out: Out,
  severity: Severity,
  ctx: RuleContext<TemperatureParams>,
  note: string,
): AlertSignal {
  const title = action === 'clear' ? 'Room temperature back within limits' : TITLES[out][severity === 'high' ? 'high' : 'medium'];
  return {
    action,
    rule: 'temperature',
    homeId: ctx.plan.homeId,
    subject,
    severity,
    kind: 'care',
    title,
    at: ctx.now,
    evidence: [{ deviceId: subject, note }],
  };
}

const fmt = (v: number): string => `${Math.round(v * 10) / 10} °C`;

function describe(out: Out, worst: number, since: number, p: TemperatureParams, tz: string): string {
  return `${out === 'low' ? 'below' : 'above'} ${fmt(out === 'low' ? p.low : p.high)} since ${formatLocalTime(since, tz)}, ${out === 'low' ? 'lowest' : 'highest'} ${fmt(worst)}`;
}

function onReading(
  s: TemperatureState,
  deviceId: string,
  v: number,
  t: number,
  ctx: RuleContext<TemperatureParams>,
): StepResult<TemperatureState> {
  const p = ctx.params;
  if (s.last !== null && t < s.last) return unchanged(s);
  const out = classify(v, s.out, p);
  if (out !== null && out === s.out && s.since !== null && s.worst !== null) {
    const worst = out === 'low' ? Math.min(s.worst, v) : Math.max(s.worst, v);
    if (worst === s.worst) return unchanged(s);
    const next: TemperatureState = { ...s, worst, last: t };
    const severity = severityOf(out, worst, p);
    // Raised medium and now far out: raised again, high (the alert store upgrades the open alert).
    if (s.raised === 'medium' && severity === 'high') {
      const note = describe(out, worst, s.since, p, ctx.plan.timeZone);
      return { state: { ...next, raised: 'high' }, signals: [signal('raise', deviceId, out, 'high', ctx, note)], timers: [] };
    }
    return unchanged(next);
  }
  if (out === null && s.out === null) return unchanged(s);
  const signals: AlertSignal[] = [];
  const cancel = s.since === null ? [] : [timerKey(s.since)];
  if (s.raised !== null && s.out !== null)
    signals.push(signal('clear', deviceId, s.out, s.raised, ctx, `${fmt(v)} at ${formatLocalTime(t, ctx.plan.timeZone)}`));
  if (out === null) return { state: { out: null, since: null, worst: null, raised: null, last: t }, signals, timers: [], cancel };
  return {
    state: { out, since: t, worst: v, raised: null, last: t },
    signals,
    timers: [{ at: t + p.minutes * MINUTE, key: timerKey(t) }],
    cancel,
  };
}

export const temperatureRule = defineRule<TemperatureState, TemperatureParams>({
  id: 'temperature',
  version: 1,
  defaults: TemperatureParamsSchema,
  initial: () => ({ out: null, since: null, worst: null, raised: null, last: null }),
  subjects(input) {
    if (input.type !== 'event' || input.event.deviceId === '') return [];
    const b = input.event.body;
    return b.type === 'measurement' && b.readings.temperature_c !== undefined ? [input.event.deviceId] : [];
  },
  step(state, input, ctx) {
    if (input.type === 'timer') {
      const { out, since, worst } = state;
      if (out === null || since === null || worst === null || state.raised !== null || input.key !== timerKey(since))
        return unchanged(state);
      const severity = severityOf(out, worst, ctx.params);
      const note = describe(out, worst, since, ctx.params, ctx.plan.timeZone);
      return { state: { ...state, raised: severity }, signals: [signal('raise', input.subject, out, severity, ctx, note)], timers: [] };
    }
    if (input.type !== 'event' || input.event.homeId === null || input.event.deviceId === '') return unchanged(state);
    const b = input.event.body;
    const v = b.type === 'measurement' ? b.readings.temperature_c : undefined;
    if (v === undefined || !Number.isFinite(v)) return unchanged(state);
    return onReading(state, input.event.deviceId, v, eventTime(input.event, ctx.now), ctx);
  },
});
