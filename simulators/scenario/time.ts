// Durations and local wall-clock times in an IANA time zone. Scenario files speak local time ("dose at 08:00",
// "day 2, 02:10") because that is how home care speaks; the simulator needs epoch ms. Daylight saving is
// resolved the way Temporal's `compatible` disambiguation does it: a time skipped by the spring-forward gap is
// moved forward by the gap (02:30 → 03:30), a time repeated in autumn is its first occurrence.

export const DURATION_RE = /^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
export const LOCAL_TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
export const LOCAL_DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** `1d2h30m15s` (any subset, in that order) → ms; undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [number, number, number, number];
  return d * DAY + h * HOUR + min * MINUTE + s * 1000;
}

export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let left = Math.round(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return sign + (parts.join('') || '0s');
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export interface LocalDateTime {
  readonly year: number;
  readonly month: number; // 1–12
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

export function toLocal(epoch: number, timeZone: string): LocalDateTime {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(epoch))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { year: p.year ?? 0, month: p.month ?? 1, day: p.day ?? 1, hour: p.hour ?? 0, minute: p.minute ?? 0, second: p.second ?? 0 };
}

/** The zone's offset from UTC at `epoch`, in ms (Europe/Oslo: +1 h in winter, +2 h in summer). */
function offsetAt(epoch: number, timeZone: string): number {
  const whole = Math.floor(epoch / 1000) * 1000;
  const l = toLocal(whole, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - whole;
}

/** Local date + time in the zone → epoch ms (DST: see the file comment). Day overflow (day 32) rolls over. */
export function fromLocal(l: Omit<LocalDateTime, 'second'> & { second?: number }, timeZone: string): number {
  const wall = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second ?? 0);
  // At most one transition lies within a day of any instant: the offsets a day before and after bound it.
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const valid = [wall - before, wall - after].filter((t) => offsetAt(t, timeZone) === wall - t);
  // Repeated hour → the earlier instant; skipped hour → read with the offset from before the gap, which lands
  // after the gap by exactly its length.
  return valid.length > 0 ? Math.min(...valid) : wall - before;
}

/** The local calendar date `days` after the local date of `epoch`, at local `HH:MM`. */
export function localTimeOnDay(epoch: number, days: number, hhmm: string, timeZone: string): number {
  const m = LOCAL_TIME_RE.exec(hhmm);
  if (!m) throw new RangeError(`not a local time HH:MM: ${hhmm}`);
  const l = toLocal(epoch, timeZone);
  return fromLocal({ year: l.year, month: l.month, day: l.day + days, hour: Number(m[1]), minute: Number(m[2]) }, timeZone);
}

/** `2026-03-29 02:10` style, for messages a technician reads in local time. */
export function formatLocal(epoch: number, timeZone: string): string {
  const l = toLocal(epoch, timeZone);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${l.year}-${p(l.month)}-${p(l.day)} ${p(l.hour)}:${p(l.minute)}`;
}
