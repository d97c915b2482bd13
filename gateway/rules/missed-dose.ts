import { z } from 'zod';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import type { AlertSignal, Severity } from '../alerts/signal.js';
import type { CarePlan } from '../care/model.js';
import { defineRule, eventTime, instantMs, unchanged, type RuleContext, type StepResult } from './contract.js';
import {
  DAY,
  HOUR,
  MINUTE,
  addDays,
  formatDate,
  formatLocalTime,
  isoWeekday,
  localParts,
  localToUtc,
  minutesOf,
  parseDate,
} from './local-time.js';

// Missed dose, schedule-aware (issue 5 item 3). Each dose of the home's schedule has a deadline: its local
// time + window + grace. The engine arms a timer at every deadline (`schedule`); when it fires with no
// `taken` for that dose, the rule raises — and says why, because the nurse's next step differs:
// "dispensed but not taken" (call the patient), "not dispensed" (the dispenser failed; the dose is still in
// it), or "dispenser offline during the window" (we do not know: status unknown is not a missed dose, but
// it is urgent). The dispenser's own `missed` raises at once; either way one alert per dose. A late `taken`
// clears it.
//
// The state is one per home (subject `doses`), not one per dose: whether the dispenser was offline during a
// window is a fact about the home's dispenser, and must be known to every dose whose window it overlaps.
// Alerts still name the dose (`2026-03-10T08:00`, its local date and time).

export const MissedDoseParamsSchema = z.object({
  /** Offline blips shorter than this (an MQTT reconnect) do not make a dose's status unknown. */
  offlineToleranceSeconds: z.int().min(0).max(3600).default(120),
  /** How long after a scheduled time an event that names no dose may still belong to it. */
  matchHours: z.number().min(0.5).max(12).default(4),
});
export type MissedDoseParams = z.infer<typeof MissedDoseParamsSchema>;

export type MissedReason = 'dispensed-not-taken' | 'not-dispensed' | 'offline';

export interface DoseRecord {
  dispensedAt?: number;
  notDispensedAt?: number;
  takenAt?: number;
  refusedAt?: number;
  missedAt?: number;
  device?: string;
  raised?: MissedReason;
  cleared?: boolean;
  /** Epoch ms; kept so pruning needs no plan. */
  at: number;
}

export interface MissedDoseState {
  /** Devices seen sending dose events: their status changes are the dispenser's. */
  dispensers: string[];
  /** null = never heard: the status is unknown. */
  online: boolean | null;
  offline: { from: number; to: number | null }[];
  doses: Record<string, DoseRecord>;
}

export const DOSES_SUBJECT = 'doses';
const DEADLINE = 'deadline:';

export interface Occurrence {
  /** `2026-03-10T08:00`: the alert subject. */
  readonly label: string;
  readonly at: number;
  readonly deadline: number;
}

/**
 * Doses of the plan on the local days around [from, to). The deadline is the dose's instant plus window and
 * grace as elapsed minutes: a 60-minute window is 60 real minutes, also across a DST change.
 */
export function occurrences(plan: CarePlan, from: number, to: number): Occurrence[] {
  const out: Occurrence[] = [];
  const last = localParts(to + DAY, plan.timeZone);
  for (let d = addDays(localParts(from - 2 * DAY, plan.timeZone), 0), n = 0; n < 400; d = addDays(d, 1), n++) {
    const weekday = isoWeekday(d);
    for (const e of plan.doses) {
      const minute = minutesOf(e.time);
      if (minute === undefined || !e.weekdays.includes(weekday)) continue;
      const at = localToUtc(d, minute, plan.timeZone);
      out.push({ label: `${formatDate(d)}T${e.time}`, at, deadline: at + (e.windowMinutes + e.graceMinutes) * MINUTE });
    }
    if (d.year === last.year && d.month === last.month && d.day === last.day) break;
  }
  return out;
}

function occurrenceOf(plan: CarePlan, label: string): Occurrence | undefined {
  const date = parseDate(label.slice(0, 10));
  if (date === undefined || label[10] !== 'T') return undefined;
  const time = label.slice(11);
  const minute = minutesOf(time);
  const entry = plan.doses.find((e) => e.time === time && e.weekdays.includes(isoWeekday(date)));
  if (entry === undefined || minute === undefined) return undefined;
  const at = localToUtc(date, minute, plan.timeZone);
  return { label, at, deadline: at + (entry.windowMinutes + entry.graceMinutes) * MINUTE };
}

/** Which dose an event is about: its `scheduledAt`, else its `HH:MM` slot, else the latest dose before it. */
function doseOf(event: CanonicalEvent, ctx: RuleContext<MissedDoseParams>): { label: string; at: number } | undefined {
  const body = event.body;
  if (body.type !== 'dose') return undefined;
  const t = eventTime(event, ctx.now);
  const { plan } = ctx;
  if (body.scheduledAt !== undefined) {
    const s = instantMs(body.scheduledAt, t);
    const match = occurrences(plan, s, s + 1).find((o) => Math.abs(o.at - s) <= MINUTE);
    if (match !== undefined) return match;
    // Not in the plan (a changed schedule): still tracked, so a `missed` from the device raises it.
    const p = localParts(s, plan.timeZone);
    return { label: `${formatDate(p)}T${formatLocalTime(s, plan.timeZone)}`, at: s };
  }
  return nearestDose(occurrences(plan, t - DAY, t + DAY), t, body.slot, ctx.params.matchHours);
}

/**
 * The dose a report at `t` without `scheduledAt` belongs to: by its `HH:MM` slot within 12 h, else the nearest
 * dose from 30 minutes before to `matchHours` after it. Also the dashboard's dose log (gateway/care/dose-log.ts).
 */
export function nearestDose<O extends Occurrence>(
  near: readonly O[],
  t: number,
  slot: string | undefined,
  matchHours: number,
): O | undefined {
  const candidates =
    slot !== undefined && minutesOf(slot) !== undefined
      ? near.filter((o) => o.label.endsWith(`T${slot}`) && Math.abs(o.at - t) <= 12 * HOUR)
      : near.filter((o) => o.at - 30 * MINUTE <= t && t <= o.at + matchHours * HOUR);
  let best: O | undefined;
  for (const o of candidates) if (best === undefined || Math.abs(o.at - t) < Math.abs(best.at - t)) best = o;
  return best;
}

function offlineDuring(state: MissedDoseState, from: number, to: number, toleranceMs: number): boolean {
  if (state.online === null && state.dispensers.length === 0) return true; // never heard of: unknown
  return state.offline.some((i) => i.from < to && (i.to === null || (i.to > from && i.to - i.from >= toleranceMs)));
}

const SEVERITY: Record<MissedReason, Severity> = { 'dispensed-not-taken': 'high', 'not-dispensed': 'high', offline: 'high' };
const TITLE: Record<MissedReason, string> = {
  'dispensed-not-taken': 'Dose not taken',
  'not-dispensed': 'Dose not dispensed',
  offline: 'Dispenser offline at dose time: dose status unknown',
};

function signal(
  action: 'raise' | 'clear',
  ctx: RuleContext<unknown>,
  label: string,
  reason: MissedReason,
  note: string,
  rec: DoseRecord,
): AlertSignal {
  return {
    action,
    rule: 'missed-dose',
    homeId: ctx.plan.homeId,
    subject: label,
    severity: SEVERITY[reason],
    kind: reason === 'offline' ? 'technical' : 'care',
    title: action === 'raise' ? TITLE[reason] : 'Dose taken',
    at: ctx.now,
    evidence: [{ ...(rec.device === undefined ? {} : { deviceId: rec.device }), note }],
  };
}

function prune(state: MissedDoseState, now: number): MissedDoseState {
  const doses: Record<string, DoseRecord> = {};
  for (const [label, r] of Object.entries(state.doses)) {
    const open = r.raised !== undefined && r.cleared !== true;
    if (r.at > now - 2 * DAY || (open && r.at > now - 7 * DAY)) doses[label] = r;
  }
  return { ...state, offline: state.offline.filter((i) => i.to === null || i.to > now - 3 * DAY).slice(-50), doses };
}

function onStatus(state: MissedDoseState, deviceId: string, isDispenser: boolean, online: boolean, t: number): MissedDoseState {
  if (!isDispenser && !state.dispensers.includes(deviceId)) return state;
  const dispensers = state.dispensers.includes(deviceId) ? state.dispensers : [...state.dispensers, deviceId];
  const offline = [...state.offline];
  const last = offline.at(-1);
  if (!online && state.online !== false) offline.push({ from: t, to: null });
  if (online && last !== undefined && last.to === null) offline[offline.length - 1] = { from: last.from, to: Math.max(t, last.from) };
  return { ...state, dispensers, online, offline };
}

function onDeadline(state: MissedDoseState, key: string, ctx: RuleContext<MissedDoseParams>): StepResult<MissedDoseState> {
  const occ = occurrenceOf(ctx.plan, key.slice(DEADLINE.length));
  if (occ === undefined) return unchanged(state); // the dose left the plan after the timer was armed
  const rec: DoseRecord = state.doses[occ.label] ?? { at: occ.at };
  if (rec.takenAt !== undefined || rec.raised !== undefined) return unchanged(state);
  const tz = ctx.plan.timeZone;
  const by = formatLocalTime(occ.deadline, tz);
  let reason: MissedReason;
  let note: string;
  if (offlineDuring(state, occ.at, occ.deadline, ctx.params.offlineToleranceSeconds * 1000)) {
    reason = 'offline';
    note = `dispenser offline or unknown between ${formatLocalTime(occ.at, tz)} and ${by}`;
  } else if (rec.notDispensedAt !== undefined) {
    reason = 'not-dispensed';
    note = `not dispensed, deadline ${by}`;
  } else if (rec.dispensedAt !== undefined || rec.refusedAt !== undefined || rec.missedAt !== undefined) {
    reason = 'dispensed-not-taken';
    note = `dispensed ${rec.dispensedAt === undefined ? '' : formatLocalTime(rec.dispensedAt, tz) + ', '}not taken by ${by}`;
  } else {
    // The dispenser is known online yet reported nothing for this dose: it did not dispense it.
    reason = 'not-dispensed';
    note = `no dispense reported, deadline ${by}`;
  }
  const next: DoseRecord = { ...rec, raised: reason };
  return {
    state: { ...state, doses: { ...state.doses, [occ.label]: next } },
    signals: [signal('raise', ctx, occ.label, reason, note, next)],
    timers: [],
  };
}

function onDose(state: MissedDoseState, event: CanonicalEvent, ctx: RuleContext<MissedDoseParams>): StepResult<MissedDoseState> {
  const body = event.body;
  if (body.type !== 'dose') return unchanged(state);
  const dispensers = state.dispensers.includes(event.deviceId) ? state.dispensers : [...state.dispensers, event.deviceId];
  const withDevice = { ...state, dispensers };
  const dose = doseOf(event, ctx);
  if (dose === undefined) return unchanged(withDevice);
  const t = eventTime(event, ctx.now);
  const rec: DoseRecord = { ...(state.doses[dose.label] ?? { at: dose.at }), device: event.deviceId };
  const signals: AlertSignal[] = [];
  switch (body.kind) {
    case 'dispensed':
      rec.dispensedAt ??= t;
      break;
    case 'not_dispensed':
      rec.notDispensedAt ??= t;
      break;
    case 'refused':
      rec.refusedAt ??= t;
      break;
    case 'taken':
      rec.takenAt ??= t;
      if (rec.raised !== undefined && rec.cleared !== true) {
        rec.cleared = true;
        signals.push(signal('clear', ctx, dose.label, rec.raised, `taken ${formatLocalTime(t, ctx.plan.timeZone)}`, rec));
      }
      break;
    case 'missed':
      rec.missedAt ??= t;
      if (rec.takenAt === undefined && rec.raised === undefined) {
        rec.raised = rec.notDispensedAt !== undefined ? 'not-dispensed' : 'dispensed-not-taken';
        signals.push(signal('raise', ctx, dose.label, rec.raised, 'reported missed by the dispenser', rec));
      }
      break;
    default:
      return unchanged(withDevice); // due, late, faults: other rules' business
  }
  return { state: prune({ ...withDevice, doses: { ...state.doses, [dose.label]: rec } }, ctx.now), signals, timers: [] };
}

export const missedDoseRule = defineRule<MissedDoseState, MissedDoseParams>({
  id: 'missed-dose',
  version: 1,
  defaults: MissedDoseParamsSchema,
  initial: () => ({ dispensers: [], online: null, offline: [], doses: {} }),
  subjects(input, ctx) {
    if (input.type === 'device-status') {
      return input.kind === 'dispenser' || (input.kind === undefined && ctx.plan.doses.length > 0) ? [DOSES_SUBJECT] : [];
    }
    const b = input.event.body;
    if (b.type === 'dose') return [DOSES_SUBJECT];
    return b.type === 'status' && b.status.online !== undefined && ctx.plan.doses.length > 0 ? [DOSES_SUBJECT] : [];
  },
  step(state, input, ctx) {
    switch (input.type) {
      case 'timer':
        return input.key.startsWith(DEADLINE) ? onDeadline(state, input.key, ctx) : unchanged(state);
      case 'device-status':
        return unchanged(onStatus(state, input.deviceId, input.kind === 'dispenser', input.online, Math.min(input.at, ctx.now)));
      case 'event': {
        const b = input.event.body;
        if (b.type === 'status') {
          if (b.status.online === undefined) return unchanged(state);
          return unchanged(onStatus(state, input.event.deviceId, false, b.status.online, eventTime(input.event, ctx.now)));
        }
        return onDose(state, input.event, ctx);
      }
    }
  },
  schedule(ctx, from, to) {
    return occurrences(ctx.plan, from, to)
      .filter((o) => o.deadline >= from && o.deadline < to)
      .map((o) => ({ subject: DOSES_SUBJECT, key: `${DEADLINE}${o.label}`, at: o.deadline, startsAt: o.at }));
  },
});
