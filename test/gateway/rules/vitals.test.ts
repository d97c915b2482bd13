import { describe, expect, it } from 'vitest';
import type { EventBody, VitalsEvent } from '../../../adapters/canonical.js';
import type { RuleContext, RuleInput } from '../../../gateway/rules/contract.js';
import { vitalsRule, zoneOf, type VitalsParams, type VitalsState } from '../../../gateway/rules/vitals.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// Vital signs against green/yellow/red bands (DHO), per (home, quantity).
const T = Date.parse('2026-03-10T08:00:00Z'); // 09:00 CET
const home = (over: Parameters<typeof plan>[0] = {}) => [plan({ doses: [], ...over })];
const rules = [vitalsRule];
const vitals = (readings: VitalsEvent['readings']): EventBody => ({ type: 'vitals', readings });
const defaults = vitalsRule.defaults.parse({});

describe('vitals', () => {
  it("the simulator's ordinary sessions (its extremes) stay green", () => {
    const h = harness({ start: T, plans: home(), rules });
    for (const r of [
      { bp_systolic_mmhg: 112, bp_diastolic_mmhg: 66, heart_rate_bpm: 55 },
      { bp_systolic_mmhg: 148, bp_diastolic_mmhg: 90, heart_rate_bpm: 85 },
      { spo2_pct: 93 },
      { spo2_pct: 100 },
      { body_weight_kg: 95.4 },
      { body_temperature_c: 36.2 },
      { body_temperature_c: 37.1 },
      { blood_glucose_mmol_l: 4.2 },
      { blood_glucose_mmol_l: 8.3 },
    ]) {
      h.send('vit-1', vitals(r));
      h.clock.advanceBy(MIN);
    }
    expect(h.signals).toEqual([]);
  });

  it('band edges: a limit itself is in the milder band', () => {
    const spo2 = defaults.spo2_pct;
    expect([92, 91.9, 90, 89.9].map((v) => zoneOf(v, spo2).zone)).toEqual(['green', 'yellow', 'yellow', 'red']);
    const hr = defaults.heart_rate_bpm;
    expect([100, 101, 120, 121, 50, 49, 40, 39].map((v) => zoneOf(v, hr).zone)).toEqual([
      'green',
      'yellow',
      'yellow',
      'red',
      'green',
      'yellow',
      'yellow',
      'red',
    ]);
  });

  it('yellow raises medium, red raises again high, green clears once; one alert per home (subject vitals)', () => {
    const h = harness({ start: T, plans: home(), rules });
    const y = h.send('vit-1', vitals({ spo2_pct: 91 }));
    expect(h.raised('vitals')).toMatchObject([
      {
        subject: 'vitals',
        severity: 'medium',
        kind: 'care',
        title: 'Vital signs in the yellow zone',
        evidence: [{ eventId: y.eventId, deviceId: 'vit-1', note: 'Oxygen saturation yellow: below 92' }],
      },
    ]);
    h.clock.advanceBy(MIN);
    h.send('vit-1', vitals({ spo2_pct: 91 }));
    h.clock.advanceBy(MIN);
    h.send('vit-1', vitals({ spo2_pct: 86 }));
    expect(h.raised('vitals').map((s) => [s.severity, s.title])).toEqual([
      ['medium', 'Vital signs in the yellow zone'],
      ['high', 'Vital signs in the red zone'],
    ]);
    h.clock.advanceBy(MIN);
    h.send('vit-1', vitals({ spo2_pct: 95 }));
    h.clock.advanceBy(MIN);
    h.send('vit-1', vitals({ spo2_pct: 96 }));
    expect(h.cleared('vitals')).toMatchObject([{ subject: 'vitals', title: 'Vital signs back in the green zone' }]);
  });

  it('red then yellow: no new signal (the open alert stays high); red again is not raised twice', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('vit-1', vitals({ heart_rate_bpm: 130 }));
    h.clock.advanceBy(MIN);
    h.send('vit-1', vitals({ heart_rate_bpm: 110 }));
    h.clock.advanceBy(MIN);
    h.send('vit-1', vitals({ heart_rate_bpm: 125 }));
    expect(h.raised('vitals').map((s) => s.severity)).toEqual(['high']);
    h.clock.advanceBy(MIN);
    h.send('vit-1', vitals({ heart_rate_bpm: 80 }));
    expect(h.cleared('vitals')).toHaveLength(1);
  });

  it('an out-of-range session (vitals-out-of-range.yaml) is one alert at its worst zone, each new quantity as evidence; weight has no default band', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('vit-1', vitals({ bp_systolic_mmhg: 186, bp_diastolic_mmhg: 112, heart_rate_bpm: 128 }));
    for (const r of [{ spo2_pct: 85 }, { body_weight_kg: 140 }, { body_temperature_c: 39.2 }, { blood_glucose_mmol_l: 17.8 }]) {
      h.clock.advanceBy(MIN);
      h.send('vit-1', vitals(r));
    }
    expect(h.raised('vitals').map((s) => [s.subject, s.severity, s.evidence.length])).toEqual([
      ['vitals', 'high', 3], // pulse, systolic and diastolic in one reading
      ['vitals', 'high', 1], // SpO2 red
      ['vitals', 'high', 1], // temperature red; weight has no band
      ['vitals', 'high', 1], // glucose yellow: the alert stays at the worst zone
    ]);
    expect(h.raised('vitals')[3]?.evidence[0]?.note).toMatch(/^Blood glucose yellow/);
  });

  it('the same reading delivered twice raises once; a late, older reading is ignored', () => {
    const h = harness({ start: T, plans: home(), rules });
    const e = h.send('vit-1', vitals({ body_temperature_c: 38.5 }));
    h.engine.handleEvents([e]);
    expect(h.raised('vitals')).toHaveLength(1);
    h.clock.advanceBy(10 * MIN);
    h.send('vit-1', vitals({ body_temperature_c: 36.8 }));
    h.engine.handleEvents([event('vit-1', vitals({ body_temperature_c: 39.5 }), T + MIN)]);
    expect(h.raised('vitals')).toHaveLength(1);
    expect(h.cleared('vitals')).toHaveLength(1);
  });

  it("thresholds are the patient's: an override sets single limits and keeps the others' defaults", () => {
    const overrides = { vitals: { spo2_pct: { yellowBelow: 88, redBelow: 85 }, body_weight_kg: { yellowAbove: 82, redAbove: 84 } } };
    const h = harness({ start: T, plans: home({ overrides }), rules });
    h.send('vit-1', vitals({ spo2_pct: 89 })); // green for this COPD patient
    h.send('vit-1', vitals({ spo2_pct: 86 }));
    h.send('vit-1', vitals({ body_weight_kg: 83 }));
    h.send('vit-1', vitals({ heart_rate_bpm: 130 })); // default band
    expect(h.raised('vitals').map((s) => [s.severity, s.evidence[0]?.note?.split(' ')[0]])).toEqual([
      ['medium', 'Oxygen'],
      ['medium', 'Body'],
      ['high', 'Pulse'],
    ]);
    expect(vitalsRule.defaults.parse(overrides.vitals).spo2_pct).toEqual({
      redBelow: 85,
      yellowBelow: 88,
      yellowAbove: null,
      redAbove: null,
    });
  });

  it('a null limit switches that side off; an inconsistent band is refused (the engine falls back to defaults)', () => {
    expect(vitalsRule.defaults.parse({ heart_rate_bpm: { yellowAbove: null, redAbove: null } }).heart_rate_bpm.redAbove).toBeNull();
    expect(vitalsRule.defaults.safeParse({ spo2_pct: { redBelow: 95 } }).success).toBe(false);
    const h = harness({ start: T, plans: home({ overrides: { vitals: { spo2_pct: { redBelow: 95 } } } }), rules });
    h.send('vit-1', vitals({ spo2_pct: 93 }));
    expect(h.signals).toEqual([]);
    expect(h.logs.some((l) => l.level === 'warn')).toBe(true);
  });
});

describe('vitals never throws on odd input', () => {
  const bodies: EventBody[] = [
    vitals({ spo2_pct: 0 }),
    vitals({ spo2_pct: 100, heart_rate_bpm: 400 }),
    vitals({ body_temperature_c: 20 }),
    vitals({ blood_glucose_mmol_l: 100, body_weight_kg: 0 }),
    vitals({ bp_systolic_mmhg: 120 }),
    { type: 'measurement', readings: { temperature_c: 21 } },
    { type: 'status', status: { battery_pct: 1 } },
  ];
  it('walks junk inputs: JSON state, deterministic, no throw', () => {
    const r = prng(13);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const NOW = Date.parse('2026-03-29T06:00:00Z');
    let state: VitalsState = vitalsRule.initial();
    for (let i = 0; i < 300; i++) {
      const at = NOW + Math.floor((r() - 0.5) * 4 * 86_400_000);
      const roll = r();
      const input: RuleInput =
        roll < 0.8
          ? {
              type: 'event',
              event: { ...event(pick(['d1', '']), pick(bodies), at), observedAt: pick([new Date(at).toISOString(), 'not a date']) },
            }
          : roll < 0.9
            ? { type: 'device-status', deviceId: 'd1', homeId: 'h001', online: r() < 0.5, at }
            : { type: 'timer', key: 'x', at, subject: 'vitals' };
      const ctx: RuleContext<VitalsParams> = { now: NOW, plan: plan(), params: defaults };
      if (input.type !== 'timer') expect(() => vitalsRule.subjects(input, ctx)).not.toThrow();
      const x = vitalsRule.step(state, input, ctx);
      expect(vitalsRule.step(JSON.parse(JSON.stringify(state)) as VitalsState, input, ctx)).toEqual(x);
      expect(JSON.parse(JSON.stringify(x.state))).toEqual(x.state);
      state = x.state;
    }
  });
});
