// Local wall-clock time in an IANA time zone with nothing but Intl (no dependency): schedules and night
// windows are local times, and the days daylight saving time starts or ends (Europe/Oslo: 2026-03-29 has
// no 02:00–03:00, 2026-10-25 has it twice) must come out right.

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface LocalDate {
  readonly year: number;
  readonly month: number; // 1–12
  readonly day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at an instant (local − UTC), read from Intl. */
function readOffset(ms: number, timeZone: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
  return wall - Math.floor(ms / 1000) * 1000;
}

// Offsets change only on quarter hours (every zone's transitions fall on :00, :15, :30 or :45), so one Intl
// read per quarter hour serves every instant in it: a busy district asks millions of times a day.
const QUARTER = 15 * 60_000;
const offsets = new Map<string, number>();

/** The zone's offset from UTC at an instant (local − UTC), ms. */
export function offsetAt(ms: number, timeZone: string): number {
  const q = Math.floor(ms / QUARTER) * QUARTER;
  const key = `${timeZone}|${q}`;
  let o = offsets.get(key);
  if (o === undefined) {
    if (offsets.size > 200_000) offsets.clear();
    o = readOffset(q, timeZone);
    offsets.set(key, o);
  }
  return o;
}

/** Local calendar fields of an instant. */
export function localParts(ms: number, timeZone: string): LocalDate & { hour: number; minute: number; second: number } {
  const t = new Date(ms + offsetAt(ms, timeZone));
  return {
    year: t.getUTCFullYear(),
    month: t.getUTCMonth() + 1,
    day: t.getUTCDate(),
    hour: t.getUTCHours(),
    minute: t.getUTCMinutes(),
    second: t.getUTCSeconds(),
  };
}

/**
 * The instant a local wall-clock time names. Like Temporal's `disambiguation: 'compatible'`: a time that
 * occurs twice (autumn) is the earlier one; a time that does not exist (spring gap) moves forward by the gap
 * (02:30 on 2026-03-29 in Oslo is 03:30 CEST).
 */
export function localToUtc(date: LocalDate, minuteOfDay: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * MINUTE;
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const candidates = [...new Set([before, after])].map((o) => wall - o).filter((t) => offsetAt(t, timeZone) === wall - t);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before; // in the gap: read with the offset before the change, i.e. moved forward
}

export function addDays(d: LocalDate, n: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + n));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** Every local date that overlaps [start, end), plus the day before (its evening may reach past midnight). */
export function localDays(start: number, end: number, timeZone: string): LocalDate[] {
  const first = addDays(localParts(start, timeZone), -1);
  const last = localParts(Math.max(start, end - 1), timeZone);
  const days: LocalDate[] = [];
  for (let d = first; ; d = addDays(d, 1)) {
    days.push(d);
    if (d.year === last.year && d.month === last.month && d.day === last.day) break;
    if (days.length > 10_000) break; // a scenario spans days, not decades
  }
  return days;
}

/** Minutes since local midnight, e.g. `08:00` → 480. */
export function minutesOf(hhmm: string): number {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** Local time of day of an instant in minutes (0–1439). */
export function localMinuteOfDay(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  return p.hour * 60 + p.minute;
}
