import { z } from 'zod';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import type { AlertSignal, Severity } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged, type RuleContext, type StepResult } from './contract.js';

// Dispenser faults: the dispenser says it cannot dispense (`jam`, `empty`) or lost mains power (`power_lost`)
// → one alert per (device, fault), at once, high. They are care alerts, not technical ones: the next dose
// will not come out of the machine, so someone has to bring it (missed-dose will say so again at the
// deadline, per dose; this alert comes hours earlier). A power cut in the home is also the patient's problem.
// - jam, empty: cleared when the device dispenses again (`dispensed`; `taken` only from a device that never
//   reports `dispensed`, since a `taken` may be for a dose that came out before the jam).
// - power_lost: cleared by `power_restored` (a dispense on the backup cell proves nothing about the mains).
// - refill_needed: a low notice. Refills are not reported by any dispenser we speak to (the simulator's staff
//   refill silently, simulators/devices/dispenser.ts), so a refill is inferred: a dispense after an `empty`,
//   or more dispenses since the notice than the carousel had left (`dosesLeftAtNotice`, a day's doses).
//   The simulator's normal day has such requests (normal-day.yaml, whose transcript expects no alert at
//   all): `refillNotice: 'off'` is the per-home switch for homes whose refills are planned anyway.
// Subjects: the state is one per dispenser; alerts are `<device>:jam`, `:empty`, `:power`, `:refill`.
// Events are ordered by their own times: a late `dispensed` from before the fault clears nothing.

export const DispenserFaultParamsSchema = z.object({
  /** `off`: refill_needed raises nothing for this home (the refill is planned some other way). */
  refillNotice: z.enum(['alert', 'off']).default('alert'),
  /** Doses the carousel still holds when it asks for a refill: one more dispense than this proves a refill. */
  dosesLeftAtNotice: z.int().min(1).max(100).default(3),
});
export type DispenserFaultParams = z.infer<typeof DispenserFaultParamsSchema>;

export type DispenserFault = 'jam' | 'empty' | 'power';

export interface DispenserFaultState {
  /** Event time each fault was raised at, while it is raised. */
  readonly jam: number | null;
  readonly empty: number | null;
  readonly power: number | null;
  /** An open refill notice: when, and the dispenses seen since. */
  readonly refill: { readonly since: number; readonly dispenses: number } | null;
  /** The device has reported `dispensed` at least once (then `taken` no longer counts as a dispense). */
  readonly reportsDispensed: boolean;
  readonly lastEventId: string | null;
}

const FAULT_OF: Partial<Record<string, DispenserFault>> = { jam: 'jam', empty: 'empty', power_lost: 'power' };
const RELEVANT: ReadonlySet<string> = new Set(['jam', 'empty', 'power_lost', 'power_restored', 'refill_needed', 'dispensed', 'taken']);

const TITLE: Record<DispenserFault | 'refill', { raise: string; clear: string }> = {
  jam: { raise: 'Dispenser jammed', clear: 'Dispenser dispensing again' },
  empty: { raise: 'Dispenser empty', clear: 'Dispenser dispensing again' },
  power: { raise: 'Dispenser lost mains power', clear: 'Dispenser power restored' },
  refill: { raise: 'Dispenser needs a refill', clear: 'Dispenser refilled' },
};

function signal(
  action: AlertSignal['action'],
  what: DispenserFault | 'refill',
  event: CanonicalEvent,
  ctx: RuleContext<DispenserFaultParams>,
): AlertSignal {
  const severity: Severity = what === 'refill' ? 'low' : 'high';
  return {
    action,
    rule: 'dispenser-fault',
    homeId: event.homeId ?? ctx.plan.homeId,
    subject: `${event.deviceId}:${what}`,
    severity,
    kind: 'care',
    title: TITLE[what][action],
    at: ctx.now,
    evidence: [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }],
  };
}

function onEvent(
  state: DispenserFaultState,
  event: CanonicalEvent,
  ctx: RuleContext<DispenserFaultParams>,
): StepResult<DispenserFaultState> {
  const body = event.body;
  if (body.type !== 'dose' || event.homeId === null || event.deviceId === '' || event.eventId === state.lastEventId)
    return unchanged(state);
  const t = eventTime(event, ctx.now);
  const signals: AlertSignal[] = [];
  let next: DispenserFaultState = state;

  const fault = FAULT_OF[body.kind];
  if (fault !== undefined) {
    if (state[fault] !== null) return unchanged(state); // already raised: the same fault reported again
    next = { ...state, [fault]: t };
    signals.push(signal('raise', fault, event, ctx));
  } else if (body.kind === 'power_restored') {
    if (state.power === null || t < state.power) return unchanged(state);
    next = { ...state, power: null };
    signals.push(signal('clear', 'power', event, ctx));
  } else if (body.kind === 'refill_needed') {
    if (state.refill !== null || ctx.params.refillNotice === 'off') return unchanged(state);
    next = { ...state, refill: { since: t, dispenses: 0 } };
    signals.push(signal('raise', 'refill', event, ctx));
  } else if (body.kind === 'dispensed' || (body.kind === 'taken' && !state.reportsDispensed)) {
    next = body.kind === 'dispensed' && !state.reportsDispensed ? { ...state, reportsDispensed: true } : state;
    let refilled = false;
    for (const f of ['jam', 'empty'] as const) {
      const since = next[f];
      if (since === null || t < since) continue;
      next = { ...next, [f]: null };
      signals.push(signal('clear', f, event, ctx));
      // Dispensing again after running empty: someone refilled it.
      if (f === 'empty') refilled = true;
    }
    const refill = next.refill;
    if (refill !== null && t >= refill.since) {
      const dispenses = refill.dispenses + 1;
      if (refilled || dispenses > ctx.params.dosesLeftAtNotice) {
        next = { ...next, refill: null };
        signals.push(signal('clear', 'refill', event, ctx));
      } else {
        next = { ...next, refill: { since: refill.since, dispenses } };
      }
    }
  }
  if (next === state) return unchanged(state);
  return { state: { ...next, lastEventId: event.eventId }, signals, timers: [] };
}

export const dispenserFaultRule = defineRule<DispenserFaultState, DispenserFaultParams>({
  id: 'dispenser-fault',
  version: 1,
  defaults: DispenserFaultParamsSchema,
  initial: () => ({ jam: null, empty: null, power: null, refill: null, reportsDispensed: false, lastEventId: null }),
  subjects(input) {
    if (input.type !== 'event' || input.event.deviceId === '') return [];
    const b = input.event.body;
    return b.type === 'dose' && RELEVANT.has(b.kind) ? [input.event.deviceId] : [];
  },
  step(state, input, ctx) {
    return input.type === 'event' ? onEvent(state, input.event, ctx) : unchanged(state);
  },
});
