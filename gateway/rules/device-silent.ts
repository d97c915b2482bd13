import { z } from 'zod';
import type { AlertSignal } from '../alerts/signal.js';
import type { CarePlan } from '../care/model.js';
import { defineRule, unchanged, type DeviceKind, type RuleContext, type RuleInput, type StepResult } from './contract.js';
import { DAY, formatLocalTime, inLocalWindow, MINUTE } from './local-time.js';
import { inDoseWindow, nextDoseStart, nextWindowStart } from './windows.js';

// Device silent or offline (issue 5; STYLE.md: "a silent device is a first-class event"). Every device is
// expected to speak at least once per heartbeat interval of its power class: mains-powered 10 minutes
// (dispensers and bridges report every ~5), battery-powered 25 hours (they report every 1–4 hours, some only
// daily). Any event from the device, or its status `online`, moves its deadline (a persisted engine timer per
// device; the subject is the device id); a deadline that passes raises. An `offline` (the broker's last will,
// or a bridge reporting a child unavailable) raises after a short debounce instead, unless the device is back
// first: an MQTT reconnect is not an incident.
//
// Flapping: an open alert is cleared only once the device has stayed online for `stableMinutes` (default 5)
// after it came back — a device dropping every few minutes keeps one open alert instead of a raise and a
// clear per drop. (The alert store also turns a raise after a clear into a reactivation of the same alert.)
//
// Severity: medium (technical), but high inside a critical window, where the silence hides care events: a
// dispenser (registry kind, or seen sending dose events) within a dose window of the plan (dose time … time +
// window + grace, local time), or a bed sensor (seen reporting bed_occupied or bed_exit) in the night window.
// An alert raised medium is raised again high when such a window begins while it is still open (a timer).
//
// Not handled here: a device moved to another home, or removed, keeps its deadline in the old home and raises
// there once (the engine has no "device removed" input).

const PowerSchema = z.enum(['mains', 'battery']);
type Power = z.infer<typeof PowerSchema>;
const minutes = z
  .int()
  .min(1)
  .max(14 * 24 * 60);

export const DeviceSilentParamsSchema = z.object({
  mainsMinutes: minutes.default(10),
  batteryMinutes: minutes.default(25 * 60),
  /** Which interval a registry kind gets; `unknown` is a device the registry gave no kind. */
  power: z
    .object({
      dispenser: PowerSchema.default('mains'),
      bridge: PowerSchema.default('mains'),
      lock: PowerSchema.default('battery'),
      sensor: PowerSchema.default('battery'),
      vitals: PowerSchema.default('battery'),
      unknown: PowerSchema.default('battery'),
    })
    .prefault({}),
  /** Per kind, an interval that wins over the power class (e.g. a vital-signs kit that only speaks at its daily session). */
  minutesByKind: z
    .object({ dispenser: minutes, bridge: minutes, lock: minutes, sensor: minutes, vitals: minutes, unknown: minutes })
    .partial()
    // A vital-signs kit speaks at its daily measuring session only (no heartbeat in FHIR): two days, not 25 h.
    .default({ vitals: 49 * 60 }),
  /** An offline shorter than this raises nothing. */
  offlineDebounceSeconds: z.int().min(0).max(3600).default(120),
  /** How long a device must stay online before its alert clears. */
  stableMinutes: z.int().min(0).max(240).default(5),
});
export type DeviceSilentParams = z.infer<typeof DeviceSilentParamsSchema>;

type Reason = 'silent' | 'offline';

export interface DeviceSilentState {
  readonly kind: DeviceKind | null;
  /** Seen sending dose events (a dispenser the registry did not name as one). */
  readonly doses: boolean;
  /** Seen reporting bed_occupied or bed_exit. */
  readonly bed: boolean;
  readonly lastSeen: number | null;
  /** The heartbeat deadline (timer SILENT). */
  readonly due: number | null;
  /** When an offline was reported, while the device is offline. */
  readonly offlineSince: number | null;
  /** The debounce's end (timer OFFLINE). */
  readonly offlineDue: number | null;
  readonly raised: Reason | null;
  readonly severity: 'medium' | 'high' | null;
  /** When the open alert clears if the device stays online (timer STABLE). */
  readonly stableAt: number | null;
  /** When the next critical window starts for an alert open at medium (timer URGENT). */
  readonly urgentAt: number | null;
}

const SILENT = 'silent';
const OFFLINE = 'offline';
const STABLE = 'stable';
const URGENT = 'urgent';
const KINDS: readonly DeviceKind[] = ['dispenser', 'lock', 'sensor', 'vitals', 'bridge'];

function intervalMs(s: DeviceSilentState, p: DeviceSilentParams): number {
  const kind = s.kind ?? 'unknown';
  const own = p.minutesByKind[kind];
  if (own !== undefined) return own * MINUTE;
  const power: Power = p.power[kind];
  return (power === 'mains' ? p.mainsMinutes : p.batteryMinutes) * MINUTE;
}

const isDispenser = (s: DeviceSilentState): boolean => s.kind === 'dispenser' || s.doses;

function critical(s: DeviceSilentState, plan: CarePlan, t: number): 'dose' | 'night' | null {
  if (isDispenser(s) && inDoseWindow(plan, t)) return 'dose';
  if (s.bed && inLocalWindow(t, plan.night, plan.timeZone)) return 'night';
  return null;
}

function nextCritical(s: DeviceSilentState, plan: CarePlan, t: number): number | null {
  const starts = [
    ...(isDispenser(s) ? [nextDoseStart(plan, t, 8 * DAY)] : []),
    ...(s.bed ? [nextWindowStart(plan.night, plan.timeZone, t)] : []),
  ].filter((x): x is number => x !== undefined && x > t);
  return starts.length === 0 ? null : Math.min(...starts);
}

const TITLES = {
  silent: 'Device not heard from',
  offline: 'Device offline',
  dose: 'Dispenser offline during a dose window',
  night: 'Bed sensor offline at night',
} as const;

function signal(
  action: 'raise' | 'clear',
  subject: string,
  severity: 'medium' | 'high',
  title: string,
  at: number,
  homeId: string,
  note: string,
): AlertSignal {
  return {
    action,
    rule: 'device-silent',
    homeId,
    subject,
    severity,
    kind: 'technical',
    title,
    at,
    evidence: [{ deviceId: subject, note }],
  };
}

function raise(s: DeviceSilentState, reason: Reason, subject: string, ctx: RuleContext<DeviceSilentParams>): StepResult<DeviceSilentState> {
  const { plan, now } = ctx;
  const window = critical(s, plan, now);
  const severity = window === null ? 'medium' : 'high';
  const urgentAt = window === null ? nextCritical(s, plan, now) : null;
  const tz = plan.timeZone;
  const note =
    reason === 'offline'
      ? `offline since ${formatLocalTime(s.offlineSince ?? now, tz)}`
      : `no message since ${s.lastSeen === null ? 'start' : formatLocalTime(s.lastSeen, tz)} (expected every ${Math.round(intervalMs(s, ctx.params) / MINUTE)} min)`;
  return {
    state: { ...s, raised: reason, severity, due: null, offlineDue: null, stableAt: null, urgentAt },
    signals: [signal('raise', subject, severity, window === null ? TITLES[reason] : TITLES[window], now, plan.homeId, note)],
    timers: urgentAt === null ? [] : [{ at: urgentAt, key: URGENT }],
  };
}

function clear(s: DeviceSilentState, subject: string, ctx: RuleContext<DeviceSilentParams>): StepResult<DeviceSilentState> {
  const severity = s.severity ?? 'medium';
  const note = s.lastSeen === null ? 'back online' : `back since ${formatLocalTime(s.lastSeen, ctx.plan.timeZone)}`;
  return {
    state: { ...s, raised: null, severity: null, stableAt: null, urgentAt: null },
    signals: [signal('clear', subject, severity, 'Device back online', ctx.now, ctx.plan.homeId, note)],
    timers: [],
    cancel: s.urgentAt === null ? [] : [URGENT],
  };
}

/**
 * A tenth of the interval: `lastSeen` is only moved when it is this much out of date, so a device's every
 * message is not a database write and a timer move (at 5,000 messages/s that was the gateway's bottleneck).
 * The deadline is therefore `lastSeen + interval + slack`: never early, at most `slack` late (mains: 10–11 min).
 */
function slackMs(s: DeviceSilentState, p: DeviceSilentParams): number {
  return Math.round(intervalMs(s, p) / 10);
}

/** The device spoke (any event) or came online at `t`. */
function alive(s: DeviceSilentState, subject: string, t: number, ctx: RuleContext<DeviceSilentParams>): StepResult<DeviceSilentState> {
  const due = t + intervalMs(s, ctx.params) + slackMs(s, ctx.params);
  const next: DeviceSilentState = { ...s, lastSeen: t, due, offlineSince: null, offlineDue: null };
  const cancel = s.offlineDue === null ? [] : [OFFLINE];
  if (s.raised === null || s.stableAt !== null) return { state: next, signals: [], timers: [{ at: due, key: SILENT }], cancel };
  if (ctx.params.stableMinutes === 0) {
    const cleared = clear(next, subject, ctx);
    return { ...cleared, timers: [{ at: due, key: SILENT }], cancel: [...cancel, ...(cleared.cancel ?? [])] };
  }
  const stableAt = t + ctx.params.stableMinutes * MINUTE;
  return {
    state: { ...next, stableAt },
    signals: [],
    timers: [
      { at: due, key: SILENT },
      { at: stableAt, key: STABLE },
    ],
    cancel,
  };
}

/** Reported offline at `t` (last will, or a bridge saying the device is unavailable). */
function offline(s: DeviceSilentState, subject: string, t: number, ctx: RuleContext<DeviceSilentParams>): StepResult<DeviceSilentState> {
  if (s.offlineSince !== null) return unchanged(s);
  const cancel = [...(s.due === null ? [] : [SILENT]), ...(s.stableAt === null ? [] : [STABLE])];
  const next: DeviceSilentState = { ...s, offlineSince: t, due: null, stableAt: null };
  if (s.raised !== null) return { state: next, signals: [], timers: [], cancel };
  const offlineDue = t + ctx.params.offlineDebounceSeconds * 1000;
  if (offlineDue <= ctx.now) {
    const r = raise(next, 'offline', subject, ctx);
    return { ...r, cancel };
  }
  return { state: { ...next, offlineDue }, signals: [], timers: [{ at: offlineDue, key: OFFLINE }], cancel };
}

function onTimer(
  s: DeviceSilentState,
  input: Extract<RuleInput, { type: 'timer' }>,
  ctx: RuleContext<DeviceSilentParams>,
): StepResult<DeviceSilentState> {
  const subject = input.subject;
  switch (input.key) {
    case SILENT: {
      if (s.due !== input.at || s.raised !== null || s.offlineSince !== null) return unchanged(s);
      // The interval may have been changed (override) since the deadline was set: a later one moves it.
      const due = (s.lastSeen ?? input.at) + intervalMs(s, ctx.params) + slackMs(s, ctx.params);
      if (due > input.at) return { state: { ...s, due }, signals: [], timers: [{ at: due, key: SILENT }] };
      return raise(s, 'silent', subject, ctx);
    }
    case OFFLINE:
      if (s.offlineDue !== input.at || s.raised !== null || s.offlineSince === null) return unchanged(s);
      return raise(s, 'offline', subject, ctx);
    case STABLE:
      if (s.stableAt !== input.at || s.raised === null || s.offlineSince !== null) return unchanged(s);
      return clear(s, subject, ctx);
    case URGENT: {
      if (s.urgentAt !== input.at || s.raised === null || s.severity !== 'medium') return unchanged(s);
      const window = critical(s, ctx.plan, ctx.now);
      if (window !== null) {
        const note = `still ${s.raised === 'offline' ? 'offline' : 'silent'} in the ${window === 'dose' ? 'dose window' : 'night'}`;
        return {
          state: { ...s, severity: 'high', urgentAt: null },
          signals: [signal('raise', subject, 'high', TITLES[window], ctx.now, ctx.plan.homeId, note)],
          timers: [],
        };
      }
      // The plan changed since: look again from now.
      const urgentAt = nextCritical(s, ctx.plan, ctx.now);
      return { state: { ...s, urgentAt }, signals: [], timers: urgentAt === null ? [] : [{ at: urgentAt, key: URGENT }] };
    }
    default:
      return unchanged(s);
  }
}

export const deviceSilentRule = defineRule<DeviceSilentState, DeviceSilentParams>({
  id: 'device-silent',
  version: 2,
  defaults: DeviceSilentParamsSchema,
  initial: () => ({
    kind: null,
    doses: false,
    bed: false,
    lastSeen: null,
    due: null,
    offlineSince: null,
    offlineDue: null,
    raised: null,
    severity: null,
    stableAt: null,
    urgentAt: null,
  }),
  subjects(input) {
    const id = input.type === 'event' ? input.event.deviceId : input.deviceId;
    return id === '' ? [] : [id];
  },
  step(state, input, ctx) {
    if (input.type === 'timer') return onTimer(state, input, ctx);
    const kind = input.kind !== undefined && KINDS.includes(input.kind) ? input.kind : state.kind;
    if (input.type === 'device-status') {
      if (input.deviceId === '') return unchanged(state);
      const s = { ...state, kind };
      const t = Math.round(Math.min(input.at, ctx.now));
      if (!Number.isFinite(t)) return unchanged(state);
      return input.online ? alive(s, input.deviceId, t, ctx) : offline(s, input.deviceId, t, ctx);
    }
    const { event } = input;
    if (event.homeId === null || event.deviceId === '') return unchanged(state);
    const b = event.body;
    const s: DeviceSilentState = {
      ...state,
      kind,
      doses: state.doses || b.type === 'dose',
      bed:
        state.bed || (b.type === 'measurement' && b.readings.bed_occupied !== undefined) || (b.type === 'alarm' && b.kind === 'bed_exit'),
    };
    // Liveness is when the gateway heard it (a stored-and-forwarded batch proves the device is up now).
    const t = Math.round(ctx.now);
    // A bridge reporting one of its devices unavailable is not the device speaking.
    if (b.type === 'status' && b.status.online === false) return offline(s, event.deviceId, t, ctx);
    const quiet =
      s.kind === state.kind &&
      s.doses === state.doses &&
      s.bed === state.bed &&
      state.raised === null &&
      state.offlineSince === null &&
      state.offlineDue === null &&
      state.stableAt === null &&
      state.lastSeen !== null &&
      state.due !== null &&
      t - state.lastSeen < slackMs(state, ctx.params);
    // Heard again recently and nothing open: the stored deadline still holds (see slackMs).
    if (quiet) return unchanged(state);
    return alive(s, event.deviceId, t, ctx);
  },
});
