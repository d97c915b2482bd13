import type { ChildSpec, DeviceContext, DeviceSpec, Incident, SensorRole } from '../types.js';
import {
  assemble,
  battery,
  between,
  heartbeats,
  incidentsOf,
  round1,
  sec,
  within,
  type Behaviour,
  type Happening,
  type Subject,
  type TracedAction,
  type Window,
} from './common.js';
import type { AlarmKind, Readings, SimEvent } from './events.js';
import { doorPlan, nights } from './home-plan.js';
import { localMinuteOfDay, HOUR, MINUTE } from './local-time.js';

// Home sensors, by role (a multi-sensor has several): motion over the day with a night lull, bed occupancy
// at night with short trips, chair occupancy, the front door's contact, climate with a slow daily drift,
// light, and the alarm detectors (water leak, smoke, fall, panic). Incidents: bed-exit-no-return (bed empty,
// a bed_exit alarm after 15 minutes, no return for the duration), no-motion, fall (active; the person lies
// still for the duration), panic, smoke, water-leak (active, cleared after the duration), temperature-low
// (the room cools below 16 °C for the duration), and the door incidents for a door contact.

type Emit = (at: number, ...events: SimEvent[]) => void;
type RoleModel = (home: string, ctx: DeviceContext, emit: Emit) => Readings | undefined;

const measure = (readings: Readings): SimEvent => ({ type: 'measurement', readings });
const alarm = (kind: AlarmKind, state: 'active' | 'cleared'): SimEvent => ({ type: 'alarm', kind, state });
const PIR_HOLD = 90_000; // a PIR reports "no motion" 90 s after the last movement (Aqara's fixed timeout)
const BED_EXIT_ALARM_AFTER = 15 * MINUTE;

function spans(ctx: DeviceContext, type: Incident['type'], fallback: number): Window[] {
  return incidentsOf(ctx, type).map((i) => ({ start: sec(i.at), end: sec(i.at + (i.durationMs ?? fallback)) }));
}

const motion: RoleModel = (home, ctx, emit) => {
  const quiet = [...spans(ctx, 'no-motion', 6 * HOUR), ...spans(ctx, 'fall', HOUR)];
  const exits = spans(ctx, 'bed-exit-no-return', 2 * HOUR);
  const asleep = nights(home, ctx).flatMap((n) => {
    // Asleep between going to bed and getting up, except during the night's short trips.
    const cuts = [...n.trips].sort((a, b) => a.start - b.start);
    const out: Window[] = [];
    let from = n.inBed;
    for (const t of cuts) {
      out.push({ start: from, end: t.start });
      from = t.end;
    }
    out.push({ start: from, end: n.up });
    return out;
  });
  const still = [...quiet, ...asleep, ...exits.map((w) => ({ start: w.start + 2 * MINUTE, end: w.end }))];
  let t = ctx.start + between(ctx.rand, 0, 20) * MINUTE;
  const movements: number[] = exits.map((w) => w.start + 20_000);
  while (t < ctx.end) {
    movements.push(t);
    t += between(ctx.rand, 4, 40) * MINUTE;
  }
  let lastOff = -Infinity;
  for (const m of movements.map(sec).sort((a, b) => a - b)) {
    if (m <= lastOff || still.some((w) => within(m, w))) continue;
    emit(m, measure({ motion: true }));
    lastOff = m + PIR_HOLD;
    emit(lastOff, measure({ motion: false }));
  }
  return { motion: false };
};

const bed: RoleModel = (home, ctx, emit) => {
  const exits = incidentsOf(ctx, 'bed-exit-no-return').map((i) => ({ start: sec(i.at), end: sec(i.at + (i.durationMs ?? 2 * HOUR)) }));
  const overlapsExit = (w: Window) => exits.some((x) => w.start < x.end + 30 * MINUTE && x.start < w.end);
  let initial = false;
  for (const n of nights(home, ctx)) {
    if (within(ctx.start, { start: n.inBed, end: n.up })) initial = true;
    emit(n.inBed, measure({ bedOccupied: true }));
    for (const trip of n.trips) {
      if (overlapsExit(trip)) continue;
      emit(trip.start, measure({ bedOccupied: false }));
      emit(trip.end, measure({ bedOccupied: true }));
    }
    if (!exits.some((x) => within(n.up, x))) emit(n.up, measure({ bedOccupied: false }));
  }
  for (const x of exits) {
    emit(x.start, measure({ bedOccupied: false }));
    if (x.end - x.start > BED_EXIT_ALARM_AFTER) emit(x.start + BED_EXIT_ALARM_AFTER, alarm('bed_exit', 'active'));
    emit(x.end, measure({ bedOccupied: true }), ...(x.end - x.start > BED_EXIT_ALARM_AFTER ? [alarm('bed_exit', 'cleared')] : []));
  }
  return { bedOccupied: initial };
};

const chair: RoleModel = (_home, ctx, emit) => {
  // Sitting periods at fixed local hours, a little shifted each day.
  for (let t = ctx.start; t < ctx.end; t += 30 * MINUTE) {
    const m = localMinuteOfDay(t, ctx.timeZone);
    const sitting = (m >= 600 && m < 690) || (m >= 900 && m < 1020) || (m >= 1110 && m < 1170);
    const p = localMinuteOfDay(t - 30 * MINUTE, ctx.timeZone);
    const wasSitting = (p >= 600 && p < 690) || (p >= 900 && p < 1020) || (p >= 1110 && p < 1170);
    if (sitting !== wasSitting) emit(t + between(ctx.rand, 0, 10) * MINUTE, measure({ chairOccupied: sitting }));
  }
  return { chairOccupied: false };
};

const doorContact: RoleModel = (home, ctx, emit) => {
  for (const step of doorPlan(home, ctx)) {
    const k = step.event.kind;
    if (k === 'opened' || k === 'closed') emit(step.at, measure({ doorOpen: k === 'opened' }));
  }
  return { doorOpen: false };
};

const climate: RoleModel = (_home, ctx, emit) => {
  const cold = spans(ctx, 'temperature-low', 3 * HOUR);
  const base = between(ctx.rand, 20, 22);
  const humid = between(ctx.rand, 35, 45);
  const at = (t: number) => {
    // A slow daily swing: coolest in the early morning, warmest in the late afternoon.
    const m = localMinuteOfDay(t, ctx.timeZone);
    const swing = Math.sin(((m - 600) / 1440) * 2 * Math.PI);
    let temp = base + 1.2 * swing;
    for (const w of cold) {
      const into = (t - w.start) / (45 * MINUTE);
      const out = (t - w.end) / HOUR;
      if (t >= w.start && t < w.end) temp = Math.min(temp, temp - (temp - 14.5) * Math.min(1, into));
      else if (t >= w.end && out < 1) temp = 14.5 + (temp - 14.5) * out;
    }
    return {
      temperatureC: round1(temp + between(ctx.rand, -0.1, 0.1)),
      humidityPct: Math.round(humid + 5 * swing + between(ctx.rand, -1, 1)),
    };
  };
  // Temperature-low first goes below 16 °C about 40 minutes in: report every 10 minutes so that is seen.
  for (let t = ctx.start + between(ctx.rand, 0, 10) * MINUTE; t < ctx.end; t += 10 * MINUTE) emit(t, measure(at(t)));
  return at(ctx.start);
};

const light: RoleModel = (_home, ctx, emit) => {
  const lux = (t: number) => {
    const m = localMinuteOfDay(t, ctx.timeZone);
    const day = Math.max(0, Math.sin(((m - 420) / 720) * Math.PI));
    const lamp = m >= 1020 && m < 1380 ? 120 : 0;
    return Math.round(day * 450 + lamp + between(ctx.rand, 0, 8));
  };
  for (let t = ctx.start + between(ctx.rand, 0, 15) * MINUTE; t < ctx.end; t += 15 * MINUTE) emit(t, measure({ illuminanceLux: lux(t) }));
  return { illuminanceLux: lux(ctx.start) };
};

/** Alarm detectors: active at the incident, cleared after its duration (or the default, when the device clears by itself). */
function detector(type: Incident['type'], kind: AlarmKind, clearsAfter: number | undefined): RoleModel {
  return (_home, ctx, emit) => {
    for (const i of incidentsOf(ctx, type)) {
      emit(i.at, alarm(kind, 'active'));
      const after = i.durationMs ?? clearsAfter;
      if (after !== undefined) emit(i.at + after, alarm(kind, 'cleared'));
    }
    return undefined;
  };
}

const ROLES: Record<SensorRole, RoleModel> = {
  motion,
  bed,
  chair,
  'door-contact': doorContact,
  climate,
  light,
  'water-leak': detector('water-leak', 'water_leak', undefined),
  smoke: detector('smoke', 'smoke', 10 * MINUTE),
  fall: detector('fall', 'fall', undefined),
  panic: detector('panic', 'panic', undefined),
};

/** Detectors that keep an alarm state (reported cleared at rest, with their tamper switch). */
const STANDING: Partial<Record<SensorRole, AlarmKind>> = { 'water-leak': 'water_leak', smoke: 'smoke' };

export function sensorBehaviour(
  s: Subject & { home: string; model: string; roles?: readonly SensorRole[] | undefined },
  ctx: DeviceContext,
  child?: ChildSpec,
): Behaviour {
  const tag = child !== undefined ? { child } : {};
  const happenings: Happening[] = [];
  const emit: Emit = (at, ...events) => happenings.push({ at: sec(at), events, ...tag });
  let readings: Readings = {};
  const initial: SimEvent[] = [];
  for (const role of s.roles ?? ['motion']) {
    const r = ROLES[role](s.home, ctx, emit);
    if (r !== undefined) readings = { ...readings, ...r };
    const standing = STANDING[role];
    if (standing !== undefined) initial.push(alarm(standing, 'cleared'), alarm('tamper', 'cleared'));
  }
  const bat = battery(s, ctx);
  const level = bat.level(ctx.start);
  if (Object.keys(readings).length > 0) initial.unshift(measure(readings));
  if (level !== undefined) initial.push({ type: 'status', batteryPct: level, batteryLow: bat.low(ctx.start) });
  happenings.push(...heartbeats(s, ctx, bat, child !== undefined, child));
  return { initial, happenings };
}

export function sensorActions(spec: DeviceSpec, ctx: DeviceContext): Iterable<TracedAction> {
  const b = sensorBehaviour(spec, ctx);
  return assemble(spec, ctx, b.happenings, new Map([['', b.initial]]));
}
