import { encode } from '../formats/index.js';
import type { Action, ChildSpec, DeviceContext, DeviceKind, DeviceSpec, Incident, IncidentType } from '../types.js';
import type { AlarmSimEvent, LockSimEvent, MeasurementSimEvent, SimEvent, StatusSimEvent } from './events.js';
import { DAY, HOUR, MINUTE } from './local-time.js';

// What every device model shares: a model describes WHAT happens (happenings: semantic events at device
// time); `assemble` turns that into what the client does on the wire — connect at the start, drop and
// reconnect around device-offline incidents, skip heartbeats while offline, store-and-forward events
// (lost for Zigbee2MQTT, which does not queue), keep the message counter and the cached state that
// whole-state formats republish, encode, and order everything in time.

/** Something a device reports at device time `at`. */
export interface Happening {
  readonly at: number;
  readonly events: readonly SimEvent[];
  /** Periodic status: skipped while the client is offline (a real device does not queue its heartbeats). */
  readonly heartbeat?: boolean;
  /** Bridges: the child the report is about. */
  readonly child?: ChildSpec;
}

/** A model's description of a device: its initial state (what it would report if asked) and its happenings. */
export interface Behaviour {
  readonly initial: readonly SimEvent[];
  readonly happenings: readonly Happening[];
}

/** An action plus the semantic events it carries (empty for connect/drop): what the simulator meant. */
export interface TracedAction {
  readonly action: Action;
  readonly events: readonly SimEvent[];
  readonly child?: string;
}

export type Rand = () => number;
export const between = (rand: Rand, lo: number, hi: number): number => lo + rand() * (hi - lo);
export const chance = (rand: Rand, p: number): boolean => rand() < p;
/** Device clocks report whole seconds; whole-second times also survive formats that send epoch seconds. */
export const sec = (ms: number): number => Math.floor(ms / 1000) * 1000;
export const round1 = (x: number): number => Math.round(x * 10) / 10;

/** A small seeded PRNG (mulberry32) for plans shared by the devices of one home (staff visits). */
export function seeded(seed: string): Rand {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The subject a device-level incident names: a device id, or a kind (`lock`, `bridge`, …). */
export interface Subject {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly power: 'mains' | 'battery';
}

export function incidentsOf(ctx: DeviceContext, type: IncidentType): Incident[] {
  return ctx.incidents.filter((i) => i.type === type).sort((a, b) => a.at - b.at);
}

/** device-offline and battery-low name their device; battery-low without one hits the home's battery devices. */
export function concerns(i: Incident, s: Subject): boolean {
  if (i.device !== undefined) return i.device === s.id || i.device === s.kind;
  return i.type === 'battery-low' && s.power === 'battery';
}

export interface Window {
  readonly start: number;
  readonly end: number;
}

export const within = (t: number, w: Window): boolean => t >= w.start && t < w.end;

/** The device's outages, overlapping ones merged (one drop, one reconnect). */
export function offlineWindows(ctx: DeviceContext, s: Subject): Window[] {
  const merged: Window[] = [];
  for (const i of incidentsOf(ctx, 'device-offline').filter((x) => concerns(x, s))) {
    const w = { start: sec(i.at), end: sec(i.at + (i.durationMs ?? HOUR)) };
    const last = merged.at(-1);
    if (last !== undefined && w.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, w.end) };
    else merged.push(w);
  }
  return merged;
}

// ── Battery and heartbeats ───────────────────────────────────────────────────────────────────────────────

export interface Battery {
  /** Level in % at an instant, undefined for devices without a battery. */
  level(t: number): number | undefined;
  low(t: number): boolean;
  /** When the battery-low incident strikes, if it does. */
  readonly lowAt: number | undefined;
}

const LOW_PCT = 15;

/** Drains slowly and linearly; a battery-low incident drops it below the low mark from then on. */
export function battery(s: Subject, ctx: DeviceContext, backup = false): Battery {
  const has = s.power === 'battery' || backup;
  const start = s.power === 'battery' ? between(ctx.rand, 45, 100) : 100;
  const perDay = s.power === 'battery' ? between(ctx.rand, 0.3, 1.2) : 0;
  // A mains device's backup cell only goes low when the incident names the device.
  const lowAt = incidentsOf(ctx, 'battery-low').find((i) => concerns(i, s))?.at;
  const level = (t: number): number | undefined => {
    if (!has) return undefined;
    const normal = start - (perDay * (t - ctx.start)) / DAY;
    const v = lowAt !== undefined && t >= lowAt ? Math.min(normal, 9 - (t - lowAt) / DAY) : normal;
    return Math.max(0, Math.round(v));
  };
  return { level, low: (t) => (level(t) ?? 100) <= LOW_PCT, lowAt };
}

export function firmwareOf(model: string): string {
  let h = 0;
  for (let i = 0; i < model.length; i++) h = (h * 31 + model.charCodeAt(i)) >>> 0;
  return `${1 + (h % 3)}.${h % 10}.${(h >>> 4) % 20}`;
}

/** Periodic status: mains every ~5 min, battery every 1–4 h (per device), each with a little jitter. */
export function heartbeats(
  s: Subject & { model: string },
  ctx: DeviceContext,
  bat: Battery,
  zigbee: boolean,
  child?: ChildSpec,
): Happening[] {
  const interval = s.power === 'mains' ? 5 * MINUTE : between(ctx.rand, 1, 4) * HOUR;
  const firmware = firmwareOf(s.model);
  const out: Happening[] = [];
  let signal = between(ctx.rand, -80, -55);
  for (let t = ctx.start + ctx.rand() * interval; t < ctx.end; t += interval * between(ctx.rand, 0.97, 1.03)) {
    signal = Math.min(-40, Math.max(-95, signal + between(ctx.rand, -3, 3)));
    const level = bat.level(t);
    const status: StatusSimEvent = {
      type: 'status',
      ...(level !== undefined ? { batteryPct: level, batteryLow: bat.low(t) } : {}),
      ...(zigbee ? { linkQuality: Math.round(255 + signal * 2.2) } : { rssiDbm: Math.round(signal), firmware }),
    };
    out.push({ at: sec(t), events: [status], heartbeat: true, ...(child !== undefined ? { child } : {}) });
  }
  if (bat.lowAt !== undefined && bat.lowAt >= ctx.start && bat.lowAt < ctx.end) {
    const level = bat.level(bat.lowAt) ?? 0;
    out.push({ at: sec(bat.lowAt), events: [{ type: 'status', batteryPct: level, batteryLow: true }], ...(child ? { child } : {}) });
  }
  return out;
}

// ── Cached state (what whole-state formats republish) ────────────────────────────────────────────────────

const CACHED_ALARMS: ReadonlySet<string> = new Set(['water_leak', 'smoke', 'tamper']);

export function foldState(state: readonly SimEvent[], events: readonly SimEvent[]): SimEvent[] {
  let readings: MeasurementSimEvent['readings'] = {};
  let status: StatusSimEvent | undefined;
  const alarms = new Map<string, AlarmSimEvent>();
  let position: LockSimEvent | undefined;
  let door: LockSimEvent | undefined;
  for (const e of [...state, ...events]) {
    if (e.type === 'measurement') readings = { ...readings, ...e.readings };
    else if (e.type === 'status') status = { ...status, ...e };
    else if (e.type === 'alarm' && CACHED_ALARMS.has(e.kind)) alarms.set(e.kind, e);
    else if (e.type === 'lock') {
      if (e.kind === 'locked' || e.kind === 'unlocked' || e.kind === 'jammed') position = { type: 'lock', kind: e.kind };
      else if (e.kind === 'closed') door = { type: 'lock', kind: 'closed' };
      else if (e.kind !== 'failed_attempt') door = { type: 'lock', kind: 'opened' }; // opened, forced, left_open
    }
  }
  return [
    ...(Object.keys(readings).length > 0 ? [{ type: 'measurement' as const, readings }] : []),
    ...alarms.values(),
    ...(position ? [position] : []),
    ...(door ? [door] : []),
    ...(status ? [status] : []),
  ];
}

// ── Assembly ─────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The client's actions, time-ordered, all within [ctx.start, ctx.end), produced lazily: a busy district
 * has ~1,500 clients, and the scenario timeline pulls each one's next action only when it is played, so
 * payloads are encoded on demand instead of a whole day of buffers per device. `initial` is the state per
 * child (key: friendly name, '' for the device itself).
 */
export function* assemble(
  spec: DeviceSpec,
  ctx: DeviceContext,
  happenings: readonly Happening[],
  initial: ReadonlyMap<string, readonly SimEvent[]>,
): Generator<TracedAction, void, undefined> {
  const windows = offlineWindows(ctx, spec).filter((w) => w.start >= ctx.start && w.start < ctx.end);
  const storeAndForward = spec.format !== 'zigbee2mqtt';
  const links: Action[] = [{ at: ctx.start, client: spec.id, op: 'connect' }];
  for (const w of windows) {
    links.push({ at: w.start, client: spec.id, op: 'drop' });
    if (w.end < ctx.end) links.push({ at: w.end, client: spec.id, op: 'connect' });
  }
  let li = 0;

  const states = new Map(initial);
  let counter = 1 + Math.floor(ctx.rand() * 50_000); // devices have been running before the scenario starts
  const ordered = happenings
    .map((h, n) => ({ h, n, at: sec(h.at) }))
    .filter(({ at }) => at >= ctx.start && at < ctx.end)
    .sort((a, b) => a.at - b.at || a.n - b.n);
  for (const { h, at } of ordered) {
    const w = windows.find((x) => within(at, x));
    if (w !== undefined && (h.heartbeat === true || !storeAndForward || w.end >= ctx.end)) continue;
    // Send times never go back: what was stored during an outage goes out at the reconnect, before anything newer.
    const sendAt = w !== undefined ? w.end : at;
    const key = h.child?.friendlyName ?? '';
    const state = states.get(key) ?? [];
    const encoded = encode(spec, { at, counter, events: h.events, state, ...(h.child ? { child: h.child } : {}) });
    states.set(key, foldState(state, h.events));
    if (encoded === undefined) continue; // the format cannot say it: the real device would not report it either
    counter += encoded.counters;
    // A (re)connect at the same instant goes first; a drop at the same instant after.
    for (let l = links[li]; l !== undefined && (l.at < sendAt || (l.at === sendAt && l.op === 'connect')); l = links[++li]) {
      yield { action: l, events: [] };
    }
    const { topic, payload, qos, retain } = encoded;
    yield {
      action: { at: sendAt, client: spec.id, op: 'publish', topic, payload, qos, retain },
      events: h.events,
      ...(h.child ? { child: h.child.friendlyName } : {}),
    };
  }
  for (; li < links.length; li++) {
    const l = links[li];
    if (l !== undefined) yield { action: l, events: [] };
  }
}
