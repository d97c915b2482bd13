import { z } from 'zod';
import type { VitalsEvent } from '../../adapters/canonical.js';
import type { AlertSignal, Severity } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged, type RuleContext, type StepResult } from './contract.js';

// Vital signs against the patient's thresholds, in the green/yellow/red bands of Norwegian digital home
// follow-up (digital hjemmeoppfølging, DHO): a yellow reading raises a medium care alert for that quantity,
// a red one high; yellow → red raises again, higher (the alert store keeps one open alert and upgrades it); a
// reading back in green clears. One alert per home (subject `vitals`) for all quantities: see onReadings.
// The state is one per home (subject `vitals`), with a record per quantity — the engine does not hand a step
// the subject of an event, and one reading session carries several quantities.
//
// Thresholds are the clinician's, per patient (CarePlan.overrides.vitals, e.g. a COPD patient's SpO₂ red
// below 85). The defaults are conservative general ones, NEWS2-like, meant to be replaced:
//
// | quantity              | red below | yellow below | green       | yellow above | red above |
// |-----------------------|-----------|--------------|-------------|--------------|-----------|
// | spo2_pct              | 90        | 92           | 92–100      | —            | —         |
// | heart_rate_bpm        | 40        | 50           | 50–100      | 100          | 120       |
// | bp_systolic_mmhg      | 90        | 100          | 100–160     | 160          | 180       |
// | bp_diastolic_mmhg     | 40        | 50           | 50–100      | 100          | 110       |
// | body_temperature_c    | 35.0      | 35.5         | 35.5–38.0   | 38.0         | 39.0      |
// | blood_glucose_mmol_l  | 3.0       | 4.0          | 4.0–15.0    | 15.0         | 20.0      |
//
// "below x" is value < x and "above x" is value > x: the limits themselves are in the milder band.
// body_weight_kg has no default: what matters is change from the patient's own baseline (e.g. +2 kg in three
// days in heart failure), which needs a history this rule does not keep. A home may still set an absolute band
// for it (around the patient's dry weight). The simulator's ordinary readings (simulators/devices/vitals.ts:
// SpO₂ ≥ 93, pulse 55–85, BP up to 148/90, 36.2–37.1 °C, glucose 4.2–8.3) stay green.
//
// Evidence names the band and the limit crossed, not the reading itself (health data stays with the event,
// found by its id).

const limit = z.number().min(0).max(500).nullable();

/** A band's limits; null = no limit on that side. Each field defaults separately, so an override may set one. */
function band(d: { redBelow: number | null; yellowBelow: number | null; yellowAbove: number | null; redAbove: number | null }) {
  return z
    .object({
      redBelow: limit.default(d.redBelow),
      yellowBelow: limit.default(d.yellowBelow),
      yellowAbove: limit.default(d.yellowAbove),
      redAbove: limit.default(d.redAbove),
    })
    .refine(
      (b) =>
        (b.redBelow === null || b.yellowBelow === null || b.redBelow <= b.yellowBelow) &&
        (b.redAbove === null || b.yellowAbove === null || b.redAbove >= b.yellowAbove),
      { message: 'red limits must lie outside the yellow ones' },
    );
}
export type Band = z.infer<ReturnType<typeof band>>;

export const VitalsParamsSchema = z.object({
  spo2_pct: band({ redBelow: 90, yellowBelow: 92, yellowAbove: null, redAbove: null }).prefault({}),
  heart_rate_bpm: band({ redBelow: 40, yellowBelow: 50, yellowAbove: 100, redAbove: 120 }).prefault({}),
  bp_systolic_mmhg: band({ redBelow: 90, yellowBelow: 100, yellowAbove: 160, redAbove: 180 }).prefault({}),
  bp_diastolic_mmhg: band({ redBelow: 40, yellowBelow: 50, yellowAbove: 100, redAbove: 110 }).prefault({}),
  body_temperature_c: band({ redBelow: 35, yellowBelow: 35.5, yellowAbove: 38, redAbove: 39 }).prefault({}),
  blood_glucose_mmol_l: band({ redBelow: 3, yellowBelow: 4, yellowAbove: 15, redAbove: 20 }).prefault({}),
  /** No default band (see above): off unless the home sets one. */
  body_weight_kg: band({ redBelow: null, yellowBelow: null, yellowAbove: null, redAbove: null }).prefault({}),
});
export type VitalsParams = z.infer<typeof VitalsParamsSchema>;
export type Quantity = keyof VitalsParams;

export const QUANTITIES = [
  'spo2_pct',
  'heart_rate_bpm',
  'bp_systolic_mmhg',
  'bp_diastolic_mmhg',
  'body_temperature_c',
  'blood_glucose_mmol_l',
  'body_weight_kg',
] as const satisfies readonly Quantity[];

const LABEL: Record<Quantity, string> = {
  spo2_pct: 'Oxygen saturation',
  heart_rate_bpm: 'Pulse',
  bp_systolic_mmhg: 'Systolic blood pressure',
  bp_diastolic_mmhg: 'Diastolic blood pressure',
  body_temperature_c: 'Body temperature',
  blood_glucose_mmol_l: 'Blood glucose',
  body_weight_kg: 'Body weight',
};

export type Zone = 'green' | 'yellow' | 'red';

export interface QuantityRecord {
  /** The zone of the latest reading. */
  readonly zone: Zone;
  /** The highest zone raised in the current episode (null: nothing open). */
  readonly raised: 'yellow' | 'red' | null;
  /** Epoch ms of the latest reading (older ones, arriving late, are ignored). */
  readonly at: number;
}

export interface VitalsState {
  readonly quantities: Partial<Record<Quantity, QuantityRecord>>;
}

export const VITALS_SUBJECT = 'vitals';

/** The zone of a reading and the limit it crossed ("below 90"), if any. */
export function zoneOf(v: number, b: Band): { zone: Zone; crossed?: string } {
  if (b.redBelow !== null && v < b.redBelow) return { zone: 'red', crossed: `below ${b.redBelow}` };
  if (b.redAbove !== null && v > b.redAbove) return { zone: 'red', crossed: `above ${b.redAbove}` };
  if (b.yellowBelow !== null && v < b.yellowBelow) return { zone: 'yellow', crossed: `below ${b.yellowBelow}` };
  if (b.yellowAbove !== null && v > b.yellowAbove) return { zone: 'yellow', crossed: `above ${b.yellowAbove}` };
  return { zone: 'green' };
}

const SEVERITY: Record<'yellow' | 'red', Severity> = { yellow: 'medium', red: 'high' };
const RANK: Record<Zone, number> = { green: 0, yellow: 1, red: 2 };

type Ev = { eventId: string; deviceId: string; observedAt: string };

/** The worst zone any quantity is raised for (null: none). */
function worst(quantities: VitalsState['quantities']): 'yellow' | 'red' | null {
  let w: 'yellow' | 'red' | null = null;
  for (const q of QUANTITIES) {
    const r = quantities[q]?.raised ?? null;
    if (r !== null && (w === null || RANK[r] > RANK[w])) w = r;
  }
  return w;
}

function signal(
  action: 'raise' | 'clear',
  zone: 'yellow' | 'red',
  event: Ev,
  ctx: RuleContext<VitalsParams>,
  notes: string[],
): AlertSignal {
  return {
    action,
    rule: 'vitals',
    homeId: ctx.plan.homeId,
    subject: VITALS_SUBJECT,
    severity: SEVERITY[zone],
    kind: 'care',
    title: action === 'raise' ? `Vital signs in the ${zone} zone` : 'Vital signs back in the green zone',
    at: ctx.now,
    evidence: (notes.length > 0 ? notes : ['green']).map((note) => ({
      eventId: event.eventId,
      deviceId: event.deviceId,
      observedAt: event.observedAt,
      note,
    })),
  };
}

/**
 * One alert per home (subject `vitals`), not per quantity: one measuring session often has several values out
 * of range, and a nurse acts on the patient, not on each number. The alert's severity is the worst zone; a
 * quantity getting worse (green → yellow, yellow → red) raises again (the lifecycle dedupes and upgrades);
 * it clears when every quantity measured is back in green. Per-quantity records keep what is out.
 */
function onReadings(
  state: VitalsState,
  readings: VitalsEvent['readings'],
  event: Ev,
  t: number,
  ctx: RuleContext<VitalsParams>,
): StepResult<VitalsState> {
  const before = worst(state.quantities);
  const quantities = { ...state.quantities };
  const worse: string[] = [];
  for (const q of QUANTITIES) {
    const v = readings[q];
    if (v === undefined || !Number.isFinite(v)) continue;
    const rec = quantities[q];
    if (rec !== undefined && t < rec.at) continue;
    const { zone, crossed } = zoneOf(v, ctx.params[q]);
    const raised = rec?.raised ?? null;
    if (zone === 'green') quantities[q] = { zone, raised: null, at: t };
    else if (raised === null || RANK[zone] > RANK[raised]) {
      worse.push(`${LABEL[q]} ${zone}: ${crossed ?? ''}`);
      quantities[q] = { zone, raised: zone, at: t };
    } else {
      // Red → yellow: still out of green; the open alert keeps its (higher) severity.
      quantities[q] = { zone, raised, at: t };
    }
  }
  const after = worst(quantities);
  const signals: AlertSignal[] = [];
  if (after !== null && worse.length > 0) signals.push(signal('raise', after, event, ctx, worse));
  else if (after === null && before !== null) signals.push(signal('clear', before, event, ctx, []));
  return { state: { quantities }, signals, timers: [] };
}

export const vitalsRule = defineRule<VitalsState, VitalsParams>({
  id: 'vitals',
  version: 2,
  defaults: VitalsParamsSchema,
  initial: () => ({ quantities: {} }),
  subjects(input) {
    return input.type === 'event' && input.event.body.type === 'vitals' ? [VITALS_SUBJECT] : [];
  },
  step(state, input, ctx) {
    if (input.type !== 'event' || input.event.homeId === null) return unchanged(state);
    const { event } = input;
    if (event.body.type !== 'vitals') return unchanged(state);
    return onReadings(state, event.body.readings, event, eventTime(event, ctx.now), ctx);
  },
});
