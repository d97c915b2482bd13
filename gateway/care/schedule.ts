import { CareError } from './inputs.js';
import type { DoseScheduleEntry } from './model.js';

// Pure helpers for medication schedules: weekday sets and the self-consistency check.

const DAY = 24 * 60;
const WEEK = 7 * DAY;
const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;

/** ISO weekdays (1 = Monday) ↔ a 7-bit mask, bit d − 1 for day d: how care_doses stores them. */
export function weekdaysToMask(days: readonly number[]): number {
  return days.reduce((mask, d) => mask | (1 << (d - 1)), 0);
}

export function maskToWeekdays(mask: number): number[] {
  return [1, 2, 3, 4, 5, 6, 7].filter((d) => (mask & (1 << (d - 1))) !== 0);
}

/** `1-5`, `1,3,5`, `1-3,6` → sorted ISO weekdays. Throws CareError naming `weekdays`. */
export function parseWeekdays(text: string): number[] {
  const bad = (): never => {
    throw new CareError(
      'TRY_ERR_INVALID_INPUT',
      `weekdays: expected ISO weekdays 1–7 (1 = Monday) as a list or range, e.g. 1-5 or 1,3,5 (got ${JSON.stringify(text.slice(0, 40))})`,
    );
  };
  const days = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*([1-7])\s*(?:-\s*([1-7])\s*)?$/.exec(part);
    if (!m) bad();
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    // 6-1 could mean "Saturday to Monday" or be a typo; make the user say 1,6-7.
    if (to < from) bad();
    for (let d = from; d <= to; d++) days.add(d);
  }
  return [...days].sort((a, b) => a - b);
}

/** `Mon–Fri`, `every day`, `Mon, Wed, Fri` for humans. */
export function describeWeekdays(days: readonly number[]): string {
  if (days.length === 7) return 'every day';
  const short = (d: number) => (WEEKDAY_NAMES[d - 1] ?? '?').slice(0, 3);
  const contiguous = days.every((d, i) => i === 0 || d === (days[i - 1] ?? 0) + 1);
  const first = days[0];
  const last = days.at(-1);
  if (contiguous && days.length > 2 && first !== undefined && last !== undefined) return `${short(first)}–${short(last)}`;
  return days.map(short).join(', ');
}

export function minutesOf(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

interface Slot {
  start: number;
  end: number;
  entry: DoseScheduleEntry;
  weekday: number;
}

/**
 * Refuses a schedule the missed-dose rule could not read unambiguously: the same dose time twice on one day,
 * or a dose whose window (time + windowMinutes) runs into the next dose's time, wrapping past midnight and
 * past Sunday. With overlapping windows a "taken" report could belong to either dose, so one of them would
 * be reported missed (or neither). Grace is allowed to overlap: it only delays the alert.
 */
export function assertConsistent(entries: readonly DoseScheduleEntry[]): void {
  const slots: Slot[] = entries.flatMap((entry) =>
    entry.weekdays.map((weekday) => {
      const start = (weekday - 1) * DAY + minutesOf(entry.time);
      return { start, end: start + entry.windowMinutes, entry, weekday };
    }),
  );
  slots.sort((a, b) => a.start - b.start);
  // One slot a week cannot collide with itself: a window is at most a day.
  if (slots.length < 2) return;
  for (let i = 0; i < slots.length; i++) {
    const a = slots[i];
    const next = slots[(i + 1) % slots.length];
    if (a === undefined || next === undefined) continue;
    const nextStart = i + 1 < slots.length ? next.start : next.start + WEEK;
    if (a.start === nextStart) {
      throw new CareError('TRY_ERR_DOSE_CONFLICT', `doses: ${a.entry.time} is scheduled twice on ${WEEKDAY_NAMES[a.weekday - 1]}`);
    }
    if (a.end > nextStart) {
      throw new CareError(
        'TRY_ERR_DOSE_CONFLICT',
        `doses: the ${a.entry.time} window on ${WEEKDAY_NAMES[a.weekday - 1]} (${a.entry.windowMinutes} min) runs into the ${next.entry.time} dose; shorten the window or move a dose`,
      );
    }
  }
}
