// Local wall-clock time in a home's IANA time zone with nothing but Intl (no dependency). Dose schedules and
// night windows are local times; on the days daylight saving time changes (Europe/Oslo: 2026-03-29 has no
// 02:00–03:00, 2026-10-25 has it twice) they must still name one instant each.

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
    // Throws a RangeError for an unknown zone: the care module validates zones, so that is a bug, not input.
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

// Zone transitions fall on quarter hours, so one Intl read per quarter hour serves every instant in it.
const QUARTER = 15 * MINUTE;
/** Per zone, the offset of each quarter hour seen (a nested map: no key string built per call). */
const offsets = new Map<string, Map<number, number>>();
let offsetCount = 0;

/** The zone's offset from UTC at an instant (local − UTC), ms. */
export function offsetAt(ms: number, timeZone: string): number {
  const q = Math.floor(ms / QUARTER) * QUARTER;
  let zone = offsets.get(timeZone);
  if (zone === undefined) {
    zone = new Map();
    offsets.set(timeZone, zone);
  }
  let o = zone.get(q);
  if (o === undefined) {
    if (offsetCount > 100_000) {
      for (const m of offsets.values()) m.clear();
      offsetCount = 0;
    }
    const p: Record<string, number> = {};
    for (const part of formatter(timeZone).formatToParts(q)) if (part.type !== 'literal') p[part.type] = Number(part.value);
    o = Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0) - q;
    zone.set(q, o);
    offsetCount += 1;
  }
  return o;
}

export interface LocalParts extends LocalDate {
  readonly hour: number;
  readonly minute: number;
  /** ISO weekday, 1 = Monday … 7 = Sunday (the care plan's convention). */
  readonly weekday: number;
}

export function localParts(ms: number, timeZone: string): LocalParts {
  const t = new Date(ms + offsetAt(ms, timeZone));
  return {
    year: t.getUTCFullYear(),
    month: t.getUTCMonth() + 1,
    day: t.getUTCDate(),
    hour: t.getUTCHours(),
    minute: t.getUTCMinutes(),
    weekday: ((t.getUTCDay() + 6) % 7) + 1,
  };
}

/**
 * The instant a local wall-clock time names, like Temporal's `disambiguation: 'compatible'`: a time that
 * occurs twice (autumn) is the earlier one; a time that does not exist (spring gap) moves forward by the gap
 * (02:30 on 2026-03-29 in Oslo is 03:30 CEST). Either way each local time is exactly one instant.
 */
export function localToUtc(date: LocalDate, minuteOfDay: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * MINUTE;
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const fits = [...new Set([before, after])].map((o) => wall - o).filter((t) => offsetAt(t, timeZone) === wall - t);
  if (fits.length > 0) return Math.min(...fits);
  return wall - before;
}

export function addDays(d: LocalDate, n: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + n));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

export function isoWeekday(d: LocalDate): number {
  return ((new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay() + 6) % 7) + 1;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `2026-03-10` */
export function formatDate(d: LocalDate): string {
  return `${d.year}-${pad(d.month)}-${pad(d.day)}`;
}

/** `HH:MM` of an instant in the zone (for short evidence notes). */
export function formatLocalTime(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

/** `2026-03-10` → a LocalDate, or undefined for anything else. */
export function parseDate(s: string): LocalDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m === null) return undefined;
  const d = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  const back = addDays(d, 0);
  return back.year === d.year && back.month === d.month && back.day === d.day ? d : undefined;
}

/** Minutes since local midnight of `HH:MM`, or undefined when it is not one. */
export function minutesOf(hhmm: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m === null ? undefined : Number(m[1]) * 60 + Number(m[2]);
}

/** Whether the instant's local time of day is inside [from, to), a window that may wrap midnight (22:00–07:00). */
export function inLocalWindow(ms: number, window: { from: string; to: string }, timeZone: string): boolean {
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  if (from === undefined || to === undefined || from === to) return false;
  const p = localParts(ms, timeZone);
  const m = p.hour * 60 + p.minute;
  return from < to ? m >= from && m < to : m >= from || m < to;
}
