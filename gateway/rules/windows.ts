import type { CarePlan, NightWindow } from '../care/model.js';
import {
  addDays,
  DAY,
  inLocalWindow,
  isoWeekday,
  localParts,
  localToUtc,
  MINUTE,
  minutesOf,
  offsetAt,
  type LocalDate,
} from './local-time.js';

// Local-time windows as instants, for the rules that care whether "now" is night or a dose window
// (inactivity, device-silent). Built on local-time.ts; each function is pure and bounded.

/**
 * Every instant at which the zone's clock reads `minuteOfDay` on `date`: usually one, two in the autumn's
 * doubled hour (02:30 on 2026-10-25 in Oslo happens at 00:30Z and 01:30Z), and in the spring gap the
 * instant the clock jumps past it (localToUtc's reading). A window edge must be seen both times it passes.
 */
export function instantsOf(date: LocalDate, minuteOfDay: number, timeZone: string): number[] {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * MINUTE;
  const fits = [...new Set([offsetAt(wall - DAY, timeZone), offsetAt(wall + DAY, timeZone)])]
    .map((o) => wall - o)
    .filter((t) => offsetAt(t, timeZone) === wall - t);
  return fits.length > 0 ? fits.sort((a, b) => a - b) : [localToUtc(date, minuteOfDay, timeZone)];
}

/** The local dates whose days touch [from, to] (one spare day each side). */
function datesAround(from: number, to: number, timeZone: string): LocalDate[] {
  const out: LocalDate[] = [];
  const last = localParts(to + DAY, timeZone);
  let d: LocalDate = addDays(localParts(from - DAY, timeZone), 0);
  for (let n = 0; n < 400; n++, d = addDays(d, 1)) {
    out.push(d);
    if (d.year === last.year && d.month === last.month && d.day === last.day) break;
  }
  return out;
}

const QUARTER = 15 * MINUTE;

/** The instant the zone's offset changes during local date `d`, if it does (found to the quarter hour). */
function transitionOn(d: LocalDate, timeZone: string): number | undefined {
  let lo = localToUtc(d, 0, timeZone);
  let hi = localToUtc(addDays(d, 1), 0, timeZone);
  const after = offsetAt(hi, timeZone);
  if (offsetAt(lo, timeZone) === after) return undefined;
  lo = Math.floor(lo / QUARTER);
  hi = Math.ceil(hi / QUARTER);
  // Invariant: offset at lo*QUARTER differs from `after`, at hi*QUARTER equals it (zones change on quarter hours).
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid * QUARTER, timeZone) === after) hi = mid;
    else lo = mid;
  }
  return hi * QUARTER;
}

/**
 * Instants in (from, to] where being inside the local window may change, ascending: its start and end times
 * (both passes of a doubled time) and the zone's offset changes (the clock jumping back can leave a window
 * that started in the doubled hour). None for an empty window. Segments between edges are all in or all out.
 */
export function windowEdges(window: NightWindow, timeZone: string, from: number, to: number): number[] {
  const a = minutesOf(window.from);
  const b = minutesOf(window.to);
  if (a === undefined || b === undefined || a === b || !(to > from)) return [];
  const edges = new Set<number>();
  for (const d of datesAround(from, to, timeZone)) {
    for (const m of [a, b]) for (const t of instantsOf(d, m, timeZone)) edges.add(t);
    const change = transitionOn(d, timeZone);
    if (change !== undefined) edges.add(change);
  }
  return [...edges].filter((t) => t > from && t <= to).sort((x, y) => x - y);
}

/** The next instant after `t` at which the window begins (within `horizon` ms), or undefined. */
export function nextWindowStart(window: NightWindow, timeZone: string, t: number, horizon = 2 * DAY): number | undefined {
  return windowEdges(window, timeZone, t, t + horizon).find(
    (e) => inLocalWindow(e, window, timeZone) && !inLocalWindow(e - 1, window, timeZone),
  );
}

export interface Interval {
  readonly from: number;
  readonly to: number;
}

/**
 * The plan's dose windows touching [from, to]: each dose's local time to time + window + grace (elapsed
 * minutes, as missed-dose counts its deadline), on the weekdays it is planned.
 */
export function doseWindows(plan: CarePlan, from: number, to: number): Interval[] {
  const out: Interval[] = [];
  for (const d of datesAround(from, to, plan.timeZone)) {
    const weekday = isoWeekday(d);
    for (const e of plan.doses) {
      const minute = minutesOf(e.time);
      if (minute === undefined || !e.weekdays.includes(weekday)) continue;
      const at = localToUtc(d, minute, plan.timeZone);
      const end = at + (e.windowMinutes + e.graceMinutes) * MINUTE;
      if (end > from && at <= to) out.push({ from: at, to: end });
    }
  }
  return out.sort((x, y) => x.from - y.from);
}

export const inDoseWindow = (plan: CarePlan, t: number): boolean => doseWindows(plan, t, t).some((w) => w.from <= t && t < w.to);

/** The start of the next dose window after `t` (within `horizon` ms), or undefined. */
export function nextDoseStart(plan: CarePlan, t: number, horizon = 2 * DAY): number | undefined {
  return doseWindows(plan, t, t + horizon).find((w) => w.from > t && w.from <= t + horizon)?.from;
}
