// Durations for people in a hurry: "12 min", "1 t 5 min", "29:05" to a deadline. Pure; the words come
// from the language's dictionary (i18n/), times from the caller's clock.

export interface DurationUnits {
  /** Shown for anything under a minute ("<1 min"). */
  readonly underMinute: string;
  readonly min: string;
  readonly hour: string;
  readonly day: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Time since something, rounded down to what matters: minutes, then hours and minutes, then days and hours. */
export function formatElapsed(ms: number, u: DurationUnits): string {
  const t = Math.max(0, ms);
  if (t < MINUTE) return u.underMinute;
  if (t < HOUR) return `${Math.floor(t / MINUTE)} ${u.min}`;
  if (t < DAY) {
    const h = Math.floor(t / HOUR);
    const m = Math.floor((t % HOUR) / MINUTE);
    return m === 0 ? `${h} ${u.hour}` : `${h} ${u.hour} ${m} ${u.min}`;
  }
  const d = Math.floor(t / DAY);
  const h = Math.floor((t % DAY) / HOUR);
  return h === 0 ? `${d} ${u.day}` : `${d} ${u.day} ${h} ${u.hour}`;
}

export interface Countdown {
  /** "29:05" under an hour (it visibly ticks), else as formatElapsed. */
  readonly text: string;
  readonly overdue: boolean;
  /** Under a quarter of an hour left (or overdue): worth a warning colour. */
  readonly soon: boolean;
}

/** The time left to a deadline, or how far past it (overdue). */
export function countdown(dueAt: string, now: number, u: DurationUnits): Countdown {
  const left = Date.parse(dueAt) - now;
  // Overdue counts from the deadline's own second, so "0:00" is never shown as overdue or as due.
  const overdue = left < 0;
  const t = Math.abs(left);
  let text: string;
  if (t < HOUR) {
    const total = overdue ? Math.floor(t / 1000) : Math.ceil(t / 1000);
    text = `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
  } else {
    text = formatElapsed(t, u);
  }
  return { text, overdue, soon: overdue || left < 15 * MINUTE };
}

/** Whole milliseconds since an ISO time. */
export function since(iso: string, now: number): number {
  return now - Date.parse(iso);
}

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** "12.03.2026, 08:15" in the reader's locale and time zone (the nurse's, which is the home's in practice). */
export function formatDateTime(iso: string, locale: string): string {
  let f = dateTimeFormats.get(locale);
  if (f === undefined) {
    f = new Intl.DateTimeFormat(locale, { dateStyle: 'short', timeStyle: 'short' });
    dateTimeFormats.set(locale, f);
  }
  return f.format(new Date(iso));
}

/** The wall board's clock: "08:15". */
export function formatClock(ms: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }).format(new Date(ms));
}
