import type { DeviceContext, Incident } from '../types.js';
import type { LockSimEvent } from './events.js';
import { between, chance, incidentsOf, sec, seeded, type Rand, type Window } from './common.js';
import { localDays, localToUtc, MINUTE, HOUR, type LocalDate } from './local-time.js';

// The plan of a home's day that several devices observe: staff visits (the lock and a door contact both see
// the door), and the patient's night (the bed sensor and the motion sensor agree). Drawn from a PRNG seeded
// by home and local date — not the device's own random source — so every device of the home derives the
// same plan, and a day's plan does not depend on where the scenario starts.

const dayKey = (d: LocalDate) => `${d.year}-${d.month}-${d.day}`;
const homeRand = (home: string, d: LocalDate, what: string): Rand => seeded(`${home}/${dayKey(d)}/${what}`);
const at = (d: LocalDate, minute: number, ctx: DeviceContext) => localToUtc(d, minute, ctx.timeZone);

export interface DoorStep {
  readonly at: number;
  readonly event: LockSimEvent;
}

/** Staff visits around the dose times and in the evening: badge or code in, door, work, door, lock. */
function visits(home: string, ctx: DeviceContext): DoorStep[] {
  const steps: DoorStep[] = [];
  for (const d of localDays(ctx.start, ctx.end, ctx.timeZone)) {
    const r = homeRand(home, d, 'visits');
    // [earliest local minute, latest, probability]: morning and evening always, midday and late evening often.
    const plan: [number, number, number][] = [
      [7 * 60 + 35, 8 * 60 + 5, 1],
      [13 * 60 + 35, 14 * 60 + 5, 0.7],
      [19 * 60 + 35, 20 * 60 + 5, 1],
      [21 * 60 + 20, 22 * 60, 0.5],
    ];
    for (const [lo, hi, p] of plan) {
      const arrive = sec(at(d, between(r, lo, hi), ctx));
      const happens = chance(r, p);
      const staff = 1 + Math.floor(r() * 40);
      const rfid = chance(r, 0.7);
      const stay = between(r, 8, 25) * MINUTE;
      const autoLock = chance(r, 0.3);
      if (!happens) continue;
      const cred = {
        method: rfid ? ('rfid' as const) : ('keypad' as const),
        credentialRef: rfid ? `tag-${String(staff).padStart(4, '0')}` : `staff-${String(staff).padStart(3, '0')}`,
        userSlot: staff,
      };
      const inAt = arrive + sec(between(r, 8, 20) * 1000);
      const leave = sec(arrive + stay);
      const outAt = leave + sec(between(r, 5, 15) * 1000);
      steps.push(
        { at: arrive, event: { type: 'lock', kind: 'unlocked', ...cred } },
        { at: inAt, event: { type: 'lock', kind: 'opened' } },
        { at: inAt + 8000, event: { type: 'lock', kind: 'closed' } },
        { at: leave, event: { type: 'lock', kind: 'opened' } },
        { at: outAt, event: { type: 'lock', kind: 'closed' } },
        {
          at: outAt + (autoLock ? 30_000 : 12_000),
          event: autoLock ? { type: 'lock', kind: 'locked', method: 'auto' } : { type: 'lock', kind: 'locked', ...cred },
        },
      );
    }
  }
  return steps;
}

const manual = (kind: 'locked' | 'unlocked'): LockSimEvent => ({ type: 'lock', kind, method: 'manual' });

/** The door's incidents, each as the steps a lock would report, and the span it keeps the door busy. */
function doorIncident(i: Incident): { steps: DoorStep[]; busy: Window } {
  const t = sec(i.at);
  const steps: DoorStep[] = [];
  let endAt = t;
  switch (i.type) {
    case 'door-left-open': {
      // Opened from inside (thumb-turn) and left; the lock itself reports left_open after its 2-minute limit.
      const open = sec(i.durationMs ?? 30 * MINUTE);
      endAt = t + open;
      // The incident starts with the unlock (its time), the door opens seconds later.
      steps.push({ at: t, event: manual('unlocked') }, { at: t + 10_000, event: { type: 'lock', kind: 'opened' } });
      if (open > 2 * MINUTE) steps.push({ at: t + 2 * MINUTE, event: { type: 'lock', kind: 'left_open' } });
      steps.push({ at: endAt, event: { type: 'lock', kind: 'closed' } }, { at: endAt + 20_000, event: manual('locked') });
      break;
    }
    case 'door-opened-at-night':
      endAt = t + sec(i.durationMs ?? 2 * MINUTE);
      steps.push(
        { at: t, event: manual('unlocked') },
        { at: t + 10_000, event: { type: 'lock', kind: 'opened' } },
        { at: endAt, event: { type: 'lock', kind: 'closed' } },
        { at: endAt + 20_000, event: manual('locked') },
      );
      break;
    case 'door-forced':
      // Forced past a locked bolt: the lock's position is unchanged, the door is open until pushed shut.
      endAt = t + sec(i.durationMs ?? 3 * MINUTE);
      steps.push(
        { at: t, event: { type: 'lock', kind: 'forced' } },
        { at: t + 1000, event: { type: 'lock', kind: 'opened' } },
        { at: endAt, event: { type: 'lock', kind: 'closed' } },
      );
      break;
    case 'failed-attempts': {
      const r = seeded(`${i.home}/${i.at}/failed`);
      let a = t;
      const rfid = chance(r, 0.5);
      for (let n = 0; n < (i.count ?? 3); n++) {
        steps.push({
          at: a,
          event: rfid
            ? { type: 'lock', kind: 'failed_attempt', method: 'rfid', credentialRef: `tag-${9000 + Math.floor(r() * 999)}` }
            : { type: 'lock', kind: 'failed_attempt', method: 'keypad' },
        });
        a += sec(between(r, 20, 60) * 1000);
      }
      endAt = a;
      break;
    }
    default:
      return { steps: [], busy: { start: t, end: t } };
  }
  return { steps, busy: { start: t - 30 * MINUTE, end: endAt + 30 * MINUTE } };
}

const DOOR_INCIDENTS = ['door-left-open', 'door-opened-at-night', 'door-forced', 'failed-attempts'] as const;

/** Everything the front door does in [ctx.start, ctx.end), time-ordered. Visits that would overlap an incident are left out. */
export function doorPlan(home: string, ctx: DeviceContext): DoorStep[] {
  const incidents = DOOR_INCIDENTS.flatMap((type) => incidentsOf(ctx, type)).map(doorIncident);
  const busy = incidents.map((x) => x.busy);
  // A visit is dropped whole (its six steps lie within 40 minutes of its arrival) if any step is near an incident.
  const all = visits(home, ctx);
  const kept: DoorStep[] = [];
  for (let v = 0; v < all.length; v += 6) {
    const visit = all.slice(v, v + 6);
    if (!visit.some((s) => busy.some((b) => s.at >= b.start && s.at < b.end))) kept.push(...visit);
  }
  return [...kept, ...incidents.flatMap((x) => x.steps)].sort((a, b) => a.at - b.at);
}

export interface Night {
  readonly inBed: number;
  readonly up: number;
  /** Short night visits out of bed (bathroom): [out, back]. */
  readonly trips: readonly Window[];
}

/** The patient's nights: to bed 22:00–23:30, up 06:30–07:30 the next morning, 0–2 short trips in between. */
export function nights(home: string, ctx: DeviceContext): Night[] {
  return localDays(ctx.start, ctx.end, ctx.timeZone).map((d) => {
    const r = homeRand(home, d, 'night');
    const inBed = sec(at(d, between(r, 22 * 60, 23 * 60 + 30), ctx));
    const next = localDays(inBed + 12 * HOUR, inBed + 12 * HOUR + 1, ctx.timeZone).at(-1) ?? d;
    const up = sec(at(next, between(r, 6 * 60 + 30, 7 * 60 + 30), ctx));
    const trips: Window[] = [];
    const n = Math.floor(r() * 3);
    for (let k = 0; k < n; k++) {
      const out = sec(inBed + ((k + 1) / (n + 1)) * (up - inBed) + between(r, -20, 20) * MINUTE);
      trips.push({ start: out, end: out + sec(between(r, 3, 10) * MINUTE) });
    }
    return { inBed, up, trips };
  });
}
