import { z } from 'zod';
import type { AlertSignal } from '../alerts/signal.js';
import type { CarePlan } from '../care/model.js';
import { defineRule, eventTime, unchanged, type RuleContext, type RuleInput, type StepResult } from './contract.js';
import { DAY, formatLocalTime, HOUR, inLocalWindow } from './local-time.js';
import { windowEdges } from './windows.js';

// Inactivity (issue 5): no motion from any sensor in the home for N hours of daytime → a high care alert
// (the person may have fallen where no fall sensor sees it); the next motion clears it. One state per home
// (subject `motion`); a home is watched from its first motion on, so a home without a motion sensor never
// raises.
//
// Daytime is everything outside the plan's night window (local time). What happens when the N hours run into
// the night is the `acrossNight` parameter:
// - `pause` (default): the count stops at the start of the night and goes on in the morning. Quiet hours of
//   the evening and of the morning add up — someone last seen at 20:30 with N = 3 h is looked for at 08:30,
//   not after a fresh 3 hours at 10:00.
// - `restart`: the count starts over when the night ends (for a late riser whose quiet evenings would
//   otherwise add up to an alert every morning).
// Night-time motion (a trip to the bathroom) is motion like any other and restarts the count.
//
// No motion is not the same as not knowing: while every motion sensor of the home is unreachable (it reported
// itself offline, or a bridge of the home is offline — we cannot tell which bridge a sensor is behind — and it
// has not been heard since), the count pauses as it does at night. The outage is device-silent's alert.
//
// Ordinary days (simulators/devices/sensor.ts): motion every 4–40 minutes while up; up by 07:30 with the first
// motion at most 40 minutes later; to bed from 22:00. The longest daytime quiet is then about 40 minutes in the
// evening plus 70 in the morning, under two hours; the default of 3 h leaves an hour's margin and still finds
// no-motion.yaml's stillness from 09:00 by noon.

export const InactivityParamsSchema = z.object({
  /** Hours of daytime with no motion before the alert. */
  hours: z.number().min(0.5).max(24).default(3),
  acrossNight: z.enum(['pause', 'restart']).default('pause'),
});
export type InactivityParams = z.infer<typeof InactivityParamsSchema>;

type Reach = 'ok' | 'offline' | 'unknown';

export interface InactivityState {
  /** Epoch ms of the latest motion; null until the home's first motion (not watched). */
  readonly lastMotion: number | null;
  readonly lastSensor: string | null;
  /** Daytime quiet (ms) counted since the last motion, up to `mark`. */
  readonly quietMs: number;
  /** Where the count goes on from; null while paused (no motion sensor reachable). */
  readonly mark: number | null;
  /** The pending check (timer `QUIET`), null when none. */
  readonly due: number | null;
  readonly raised: boolean;
  /** Motion sensors seen, and whether they can be heard. */
  readonly sensors: readonly { readonly id: string; readonly reach: Reach }[];
  /** Bridges of the home reported offline and not back yet. */
  readonly bridgesDown: readonly string[];
}

export const MOTION_SUBJECT = 'motion';
const QUIET = 'quiet';
const MAX_SENSORS = 32;
const MAX_BRIDGES = 8;
/**
 * A motion report less than this after the one the count started from changes nothing stored: a chatty
 * sensor, or several in one home, would otherwise rewrite the state and move the deadline on every report
 * (the alerts benchmark's 5 reports a second per sensor made this rule 3,700 state writes a second, most of
 * the rules' work). The count runs from the first motion of such a minute, so the alert may come up to a
 * minute before N hours have passed since the very last report; N is hours, and a minute is inside what the
 * rule can know anyway (a PIR sensor holds "occupied" for a minute or more).
 */
export const MOTION_GRANULE_MS = 60_000;

// ── Daytime arithmetic ───────────────────────────────────────────────────────────────────────────────────

/** The quiet counted at `to`, having counted `quiet` at `from`: night segments pause it, or reset it (`restart`). */
export function accrue(plan: CarePlan, mode: InactivityParams['acrossNight'], quiet: number, from: number, to: number): number {
  let q = quiet;
  let t = from;
  for (const e of [...windowEdges(plan.night, plan.timeZone, from, to), to]) {
    if (e <= t) continue;
    if (!inLocalWindow(t, plan.night, plan.timeZone)) q += e - t;
    else if (mode === 'restart') q = 0;
    t = e;
  }
  return q;
}

/** When the quiet reaches `limit`, counting on from `from` with `quiet` already counted. */
export function quietDeadline(plan: CarePlan, mode: InactivityParams['acrossNight'], quiet: number, from: number, limit: number): number {
  let q = quiet;
  let t = from;
  // Bounded: a night window of nearly 24 h with a long N would otherwise walk for years.
  for (let chunk = 0; chunk < 60; chunk++) {
    const end = t + 2 * DAY;
    for (const e of [...windowEdges(plan.night, plan.timeZone, t, end), end]) {
      if (e <= t) continue;
      if (inLocalWindow(t, plan.night, plan.timeZone)) {
        if (mode === 'restart') q = 0;
      } else if (q + (e - t) >= limit) {
        return Math.round(t + Math.max(0, limit - q));
      } else {
        q += e - t;
      }
      t = e;
    }
  }
  return Math.round(t);
}

// ── The rule ─────────────────────────────────────────────────────────────────────────────────────────────

/** N in whole ms (timer instants must survive their ISO round trip in the engine's table). */
const limitMs = (p: InactivityParams): number => Math.round(p.hours * HOUR);

const paused = (s: InactivityState): boolean => s.sensors.length > 0 && s.sensors.every((x) => x.reach !== 'ok');

function signal(action: 'raise' | 'clear', s: InactivityState, ctx: RuleContext<InactivityParams>, note: string): AlertSignal {
  return {
    action,
    rule: 'inactivity',
    homeId: ctx.plan.homeId,
    subject: MOTION_SUBJECT,
    severity: 'high',
    kind: 'care',
    title: action === 'raise' ? 'No movement detected' : 'Movement detected again',
    at: ctx.now,
    evidence: [{ ...(s.lastSensor === null ? {} : { deviceId: s.lastSensor }), note }],
  };
}

/** Stops or resumes the count after a change in who can be heard, at `t`. */
function settle(
  before: InactivityState,
  after: InactivityState,
  t: number,
  ctx: RuleContext<InactivityParams>,
): StepResult<InactivityState> {
  const { plan, params } = ctx;
  if (after.lastMotion === null || after.raised) return unchanged(after);
  const wasPaused = before.mark === null;
  const isPaused = paused(after);
  if (!wasPaused && isPaused) {
    const quietMs = accrue(plan, params.acrossNight, after.quietMs, after.mark ?? t, Math.max(t, after.mark ?? t));
    return { state: { ...after, quietMs, mark: null, due: null }, signals: [], timers: [], cancel: [QUIET] };
  }
  if (wasPaused && !isPaused) {
    const due = quietDeadline(plan, params.acrossNight, after.quietMs, t, limitMs(params));
    return { state: { ...after, mark: t, due }, signals: [], timers: [{ at: due, key: QUIET }] };
  }
  return unchanged(after);
}

/** The state with this sensor's reach; the very same object when nothing changes (no write). */
function withSensor(s: InactivityState, id: string, reach: Reach): InactivityState {
  if (s.sensors.some((x) => x.id === id && x.reach === reach)) return s;
  const rest = s.sensors.filter((x) => x.id !== id);
  return { ...s, sensors: [...rest, { id, reach }].slice(-MAX_SENSORS) };
}

function onBridge(s: InactivityState, id: string, online: boolean): InactivityState {
  const down = s.bridgesDown.filter((b) => b !== id);
  if (online) {
    // All bridges back: a sensor we only feared unreachable is assumed heard again.
    const sensors = down.length === 0 ? s.sensors.map((x) => (x.reach === 'unknown' ? { ...x, reach: 'ok' as const } : x)) : s.sensors;
    return { ...s, bridgesDown: down, sensors };
  }
  return {
    ...s,
    bridgesDown: [...down, id].slice(-MAX_BRIDGES),
    sensors: s.sensors.map((x) => (x.reach === 'ok' ? { ...x, reach: 'unknown' as const } : x)),
  };
}

function onMotion(s: InactivityState, deviceId: string, t: number, ctx: RuleContext<InactivityParams>): StepResult<InactivityState> {
  const { plan, params } = ctx;
  const heard = withSensor(s, deviceId, 'ok');
  if (s.lastMotion !== null && t < s.lastMotion) return settle(s, heard, t, ctx); // an older report, late
  // Counting from a motion less than a granule ago, nothing else changed: the same count, nothing to store.
  const counting = s.mark === s.lastMotion && s.quietMs === 0 && !s.raised;
  if (heard === s && counting && s.lastMotion !== null && t - s.lastMotion < MOTION_GRANULE_MS) return unchanged(s);
  const due = quietDeadline(plan, params.acrossNight, 0, t, limitMs(params));
  const next: InactivityState = { ...heard, lastMotion: t, lastSensor: deviceId, quietMs: 0, mark: t, due };
  // A late report of motion long ago does not end an alert the silence since then still justifies.
  if (s.raised && due > ctx.now) {
    const cleared = { ...next, raised: false };
    return {
      state: cleared,
      signals: [signal('clear', cleared, ctx, `motion ${formatLocalTime(t, plan.timeZone)}`)],
      timers: [{ at: due, key: QUIET }],
    };
  }
  if (s.raised) return { state: { ...next, raised: true, due: null }, signals: [], timers: [] };
  return { state: next, signals: [], timers: [{ at: due, key: QUIET }] };
}

function onTimer(
  s: InactivityState,
  input: Extract<RuleInput, { type: 'timer' }>,
  ctx: RuleContext<InactivityParams>,
): StepResult<InactivityState> {
  if (input.key !== QUIET || s.raised || s.lastMotion === null || s.mark === null || s.due !== input.at) return unchanged(s);
  const { plan, params } = ctx;
  // The plan (night window) or N may have changed since the check was set: a later deadline moves it.
  const due = quietDeadline(plan, params.acrossNight, s.quietMs, s.mark, limitMs(params));
  if (due > input.at) return { state: { ...s, due }, signals: [], timers: [{ at: due, key: QUIET }] };
  const next: InactivityState = { ...s, raised: true, due: null };
  const hours = Math.round(params.hours * 10) / 10;
  const note = `no motion since ${formatLocalTime(s.lastMotion, plan.timeZone)}: ${hours} h of daytime`;
  return { state: next, signals: [signal('raise', next, ctx, note)], timers: [] };
}

export const inactivityRule = defineRule<InactivityState, InactivityParams>({
  id: 'inactivity',
  version: 1,
  defaults: InactivityParamsSchema,
  initial: () => ({
    lastMotion: null,
    lastSensor: null,
    quietMs: 0,
    mark: null,
    due: null,
    raised: false,
    sensors: [],
    bridgesDown: [],
  }),
  subjects(input) {
    if (input.type === 'device-status') return input.deviceId === '' ? [] : [MOTION_SUBJECT];
    const b = input.event.body;
    if (b.type === 'measurement' && b.readings.motion !== undefined) return [MOTION_SUBJECT];
    if (b.type === 'status' && b.status.online !== undefined) return [MOTION_SUBJECT];
    return input.kind === 'bridge' ? [MOTION_SUBJECT] : [];
  },
  step(state, input, ctx) {
    if (input.type === 'timer') return onTimer(state, input, ctx);
    const known = (id: string): boolean => state.sensors.some((x) => x.id === id);
    if (input.type === 'device-status') {
      const t = Math.min(input.at, ctx.now);
      if (!Number.isFinite(t)) return unchanged(state);
      if (input.kind === 'bridge') return settle(state, onBridge(state, input.deviceId, input.online), t, ctx);
      if (!known(input.deviceId)) return unchanged(state);
      return settle(state, withSensor(state, input.deviceId, input.online ? 'ok' : 'offline'), t, ctx);
    }
    const { event } = input;
    if (event.homeId === null || event.deviceId === '') return unchanged(state);
    const t = eventTime(event, ctx.now);
    const b = event.body;
    if (b.type === 'measurement' && b.readings.motion === true) return onMotion(state, event.deviceId, t, ctx);
    // What the device says of itself (a bridge's state, a sensor's availability through its bridge).
    const online = b.type === 'status' ? b.status.online : undefined;
    if (input.kind === 'bridge') return settle(state, onBridge(state, event.deviceId, online ?? true), t, ctx);
    if (b.type === 'measurement' && b.readings.motion === false) return settle(state, withSensor(state, event.deviceId, 'ok'), t, ctx);
    if (online !== undefined && known(event.deviceId))
      return settle(state, withSensor(state, event.deviceId, online ? 'ok' : 'offline'), t, ctx);
    return unchanged(state);
  },
});
