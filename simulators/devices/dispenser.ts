import type { DeviceContext, DeviceSpec, Incident } from '../types.js';
import {
  assemble,
  battery,
  between,
  chance,
  heartbeats,
  incidentsOf,
  sec,
  type Happening,
  type TracedAction,
  type Window,
} from './common.js';
import type { DoseKind, DoseSimEvent } from './events.js';
import { localDays, localToUtc, minutesOf, HOUR, MINUTE } from './local-time.js';

// Medication dispenser: a daily schedule of doses (local times, DST days included). Each dose: `due` at the
// scheduled time, `dispensed` seconds later, `taken` a few minutes later — sometimes `late` first. A
// 21-pocket carousel (7 days × 3 doses) asks for a refill with a day's doses left and is refilled by staff
// within hours. Incidents: dose-not-taken → `missed` when the hour's window ends; dose-not-dispensed;
// dispenser-jam and dispenser-empty (no dose is dispensed while they last).

export const DEFAULT_SLOTS = ['08:00', '14:00', '20:00'] as const;
const POCKETS = 21;
const REFILL_AT = 3;
/** How long a dispensed dose may wait before the dispenser reports it missed. */
export const TAKE_WINDOW = HOUR;
const MATCH = 4 * HOUR;

interface Dose {
  readonly slot: string;
  readonly scheduledAt: number;
}

function schedule(ctx: DeviceContext): Dose[] {
  const doses = localDays(ctx.start, ctx.end, ctx.timeZone).flatMap((d) =>
    DEFAULT_SLOTS.map((slot) => ({ slot, scheduledAt: localToUtc(d, minutesOf(slot), ctx.timeZone) })),
  );
  return doses.filter((d) => d.scheduledAt >= ctx.start && d.scheduledAt < ctx.end).sort((a, b) => a.scheduledAt - b.scheduledAt);
}

/** The dose an incident is about: the scheduled dose nearest its time (within 4 h). */
function doseOf(i: Incident, doses: readonly Dose[]): Dose | undefined {
  let best: Dose | undefined;
  for (const d of doses) {
    if (
      Math.abs(d.scheduledAt - i.at) <= MATCH &&
      (best === undefined || Math.abs(d.scheduledAt - i.at) < Math.abs(best.scheduledAt - i.at))
    )
      best = d;
  }
  return best;
}

export function dispenserActions(spec: DeviceSpec, ctx: DeviceContext): Iterable<TracedAction> {
  const doses = schedule(ctx);
  const notTaken = new Set(incidentsOf(ctx, 'dose-not-taken').map((i) => doseOf(i, doses)));
  const notDispensed = new Set(incidentsOf(ctx, 'dose-not-dispensed').map((i) => doseOf(i, doses)));
  const jams = incidentsOf(ctx, 'dispenser-jam');
  const empties = incidentsOf(ctx, 'dispenser-empty');
  const blocked: Window[] = [
    ...jams.map((i) => ({ start: sec(i.at), end: sec(i.at + (i.durationMs ?? 3 * HOUR)) })),
    ...empties.map((i) => ({ start: sec(i.at), end: sec(i.at + (i.durationMs ?? 6 * HOUR)) })),
  ];

  const out: Happening[] = [];
  const dose = (at: number, kind: DoseKind, d?: Dose, position?: number) => {
    const e: DoseSimEvent = {
      type: 'dose',
      kind,
      ...(d !== undefined ? { slot: d.slot, scheduledAt: d.scheduledAt } : {}),
      ...(position !== undefined ? { position } : {}),
    };
    out.push({ at: sec(at), events: [e] });
  };
  for (const i of jams) dose(i.at, 'jam');
  for (const i of empties) dose(i.at, 'empty');

  let remaining = 4 + Math.floor(ctx.rand() * (POCKETS - 3));
  let refillAt: number | undefined;
  const refills = empties.map((i) => sec(i.at + (i.durationMs ?? 6 * HOUR))).sort((a, b) => a - b);
  for (const d of doses) {
    const s = d.scheduledAt;
    // Random draws first and always, so an incident on one dose does not shift every later dose.
    const dispenseAfter = between(ctx.rand, 15, 40) * 1000;
    const late = chance(ctx.rand, 0.1);
    const takeAfter = late ? between(ctx.rand, 32, 55) * MINUTE : between(ctx.rand, 1, 15) * MINUTE;
    const refillAfter = between(ctx.rand, 2, 8) * HOUR;

    if (refillAt !== undefined && refillAt <= s) [remaining, refillAt] = [POCKETS, undefined];
    // An emptied carousel is refilled by staff when the empty incident ends.
    while (refills[0] !== undefined && refills[0] <= s) {
      refills.shift();
      [remaining, refillAt] = [POCKETS, undefined];
    }
    const position = POCKETS - remaining + 1;
    dose(s, 'due', d, position);
    if (notDispensed.has(d) || blocked.some((w) => s >= w.start && s < w.end)) {
      dose(s + 60_000, 'not_dispensed', d, position);
      continue;
    }
    dose(s + dispenseAfter, 'dispensed', d, position);
    remaining -= 1;
    if (remaining === REFILL_AT) {
      dose(s + dispenseAfter + 5000, 'refill_needed');
      refillAt = s + refillAfter;
    }
    if (notTaken.has(d)) {
      dose(s + TAKE_WINDOW, 'missed', d, position);
    } else {
      if (late) dose(s + 30 * MINUTE, 'late', d, position);
      dose(s + takeAfter, 'taken', d, position);
    }
  }

  // Dispensers run on mains with a backup cell that reports its level.
  const bat = battery(spec, ctx, true);
  out.push(...heartbeats(spec, ctx, bat, false));
  return assemble(spec, ctx, out, new Map());
}
