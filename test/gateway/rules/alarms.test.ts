import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { AlertSignalSchema } from '../../../gateway/alerts/signal.js';
import type { AnyRule, RuleInput } from '../../../gateway/rules/contract.js';
import { panicRule } from '../../../gateway/rules/panic.js';
import { smokeRule } from '../../../gateway/rules/smoke.js';
import { waterLeakRule } from '../../../gateway/rules/water-leak.js';
import { deviceTrace } from '../../../simulators/devices/index.js';
import { deviceContext, expandFleet, loadScenario } from '../../../simulators/scenario/index.js';
import { compareTranscript, loadTranscript } from '../../../simulators/transcript.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// panic, smoke and water-leak (one factory, gateway/rules/alarm-rule.ts) on the shared virtual clock,
// home h001 in Europe/Oslo.
const T = Date.parse('2026-03-10T15:20:00Z'); // 16:20 CET
const noDoses = [plan({ doses: [] })];
const rules: AnyRule[] = [panicRule, smokeRule, waterLeakRule];
const active = (kind: 'panic' | 'smoke' | 'water_leak'): EventBody => ({ type: 'alarm', kind, state: 'active' });
const cleared = (kind: 'panic' | 'smoke' | 'water_leak'): EventBody => ({ type: 'alarm', kind, state: 'cleared' });

describe.each([
  { rule: 'panic', kind: 'panic', severity: 'critical', title: 'Panic button pressed' },
  { rule: 'smoke', kind: 'smoke', severity: 'critical', title: 'Smoke detected' },
  { rule: 'water-leak', kind: 'water_leak', severity: 'high', title: 'Water leak detected' },
] as const)('$rule', ({ rule, kind, severity, title }) => {
  it('active raises at once for the device; a repeat within seconds does not; cleared clears, once', () => {
    const h = harness({ start: T, plans: noDoses, rules });
    const e = h.send('s-1', active(kind));
    h.engine.handleEvents([e]); // at-least-once bus: the same event again
    h.clock.advanceBy(20_000);
    h.send('s-1', active(kind));
    expect(h.raised()).toMatchObject([{ rule, subject: 's-1', severity, kind: 'care', title, at: T, homeId: 'h001' }]);
    h.clock.advanceBy(MIN);
    h.send('s-1', cleared(kind));
    h.send('s-1', cleared(kind));
    expect(h.cleared()).toMatchObject([{ rule, subject: 's-1' }]);
    expect(h.raised()).toHaveLength(1);
  });

  it('a cleared with nothing active, and other alarm kinds, raise and clear nothing', () => {
    const h = harness({ start: T, plans: noDoses, rules: [rules.find((r) => r.id === rule) as AnyRule] });
    h.send('s-1', cleared(kind));
    h.send('s-1', { type: 'alarm', kind: 'fall', state: 'active' });
    h.send('s-1', { type: 'alarm', kind: 'tamper', state: 'active' });
    h.send('s-1', { type: 'measurement', readings: { motion: true } });
    expect(h.signals).toEqual([]);
  });

  it('active again after a clear raises again; two devices are two alerts', () => {
    const h = harness({ start: T, plans: noDoses, rules });
    h.send('s-1', active(kind));
    h.send('s-2', active(kind));
    h.clock.advanceBy(5 * MIN);
    h.send('s-1', cleared(kind));
    h.clock.advanceBy(5 * MIN);
    h.send('s-1', active(kind));
    expect(h.raised().map((s) => s.subject)).toEqual(['s-1', 's-2', 's-1']);
  });

  it('a late copy of the active, delivered after the clear, does not raise again', () => {
    const h = harness({ start: T, plans: noDoses, rules });
    const first = h.send('s-1', active(kind));
    h.clock.advanceBy(5 * MIN);
    h.send('s-1', cleared(kind));
    h.clock.advanceBy(5 * MIN);
    h.engine.handleEvents([first]);
    // And a late cleared from before a new alarm does not clear it.
    h.clock.advanceBy(5 * MIN);
    h.send('s-1', active(kind));
    h.engine.handleEvents([event('s-1', cleared(kind), T + 6 * MIN)]);
    expect(h.raised()).toHaveLength(2);
    expect(h.cleared()).toHaveLength(1);
  });
});

describe('one-shot (panic) and standing (smoke, water-leak) detectors repeat differently', () => {
  it('panic: a press after the 60 s window raises again (the lifecycle counts it); 59 s after does not', () => {
    const h = harness({ start: T, plans: noDoses, rules });
    h.send('p-1', active('panic'));
    h.clock.advanceBy(59_000);
    h.send('p-1', active('panic'));
    expect(h.raised('panic')).toHaveLength(1);
    h.clock.advanceBy(1000);
    h.send('p-1', active('panic'));
    expect(h.raised('panic').map((s) => s.at)).toEqual([T, T + 60_000]);
  });

  it("panic: the window is the home's override", () => {
    const h = harness({ start: T, plans: [plan({ doses: [], overrides: { panic: { repeatAfterSeconds: 600 } } })], rules });
    h.send('p-1', active('panic'));
    h.clock.advanceBy(5 * MIN);
    h.send('p-1', active('panic'));
    expect(h.raised('panic')).toHaveLength(1);
  });

  it('water leak and smoke: active repeated with every heartbeat for hours is one alarm until cleared', () => {
    const h = harness({ start: T, plans: noDoses, rules });
    for (let i = 0; i < 6; i++) {
      h.send('w-1', active('water_leak'));
      h.send('sd-1', active('smoke'));
      h.clock.advanceBy(60 * MIN);
    }
    expect(h.raised().map((s) => s.rule)).toEqual(['water-leak', 'smoke']);
    h.send('w-1', cleared('water_leak'));
    h.send('w-1', active('water_leak'));
    expect(h.raised('water-leak')).toHaveLength(2);
  });

  it('standing detectors report cleared at rest: no signal, and the state is not rewritten each time', () => {
    const h = harness({ start: T, plans: noDoses, rules });
    for (let i = 0; i < 3; i++) {
      h.send('w-1', cleared('water_leak'));
      h.clock.advanceBy(60 * MIN);
    }
    expect(h.signals).toEqual([]);
    expect(h.db.prepare("SELECT updated_at FROM rule_state WHERE rule = 'water-leak'").pluck().all()).toEqual([new Date(T).toISOString()]);
  });

  it('defaults: panic has a repeat window, standing detectors have nothing to tune', () => {
    expect(panicRule.defaults.parse({})).toEqual({ repeatAfterSeconds: 60 });
    expect(smokeRule.defaults.parse({})).toEqual({});
    expect(waterLeakRule.defaults.parse({})).toEqual({});
  });
});

// The simulator's detectors (simulators/devices/sensor.ts; Zigbee2MQTT hubs' children included) through the rules.
describe('panic, smoke and water-leak against the simulator', () => {
  const dir = new URL('../../../simulators/scenarios/', import.meta.url).pathname;
  function run(name: string) {
    const s = loadScenario(`${dir}${name}.yaml`);
    const inputs: { at: number; home: string; device: string; body: EventBody }[] = [];
    for (const spec of expandFleet(s).filter((d) => d.kind === 'sensor' || d.kind === 'bridge'))
      for (const { action, events, child } of deviceTrace(spec, deviceContext(s, spec)))
        for (const e of events)
          if (e.type === 'alarm' && e.kind !== 'bed_exit')
            inputs.push({
              at: action.at,
              home: spec.home,
              device: child ?? spec.id,
              body: { type: 'alarm', kind: e.kind, state: e.state },
            });
    inputs.sort((x, y) => x.at - y.at);
    const h = harness({ start: s.start, plans: s.homes.map((homeId) => plan({ homeId, doses: [] })), rules });
    for (const i of inputs) {
      h.clock.advanceTo(i.at);
      h.engine.handleEvents([event(i.device, i.body, i.at, i.home)]);
    }
    h.clock.advanceTo(s.end);
    return { s, h };
  }

  it.each(['panic', 'smoke', 'water-leak'])('%s.yaml meets its transcript', (name) => {
    const { s, h } = run(name);
    const actual = h
      .raised()
      .map((a) => ({ rule: a.rule, home: a.homeId ?? '', subject: a.subject, severity: a.severity, raisedAt: a.at }));
    const result = compareTranscript(loadTranscript(`${dir}${name}.alerts.yaml`, s), actual, s.start);
    expect(result.ok, result.text).toBe(true);
  });

  it('normal-day.yaml raises nothing', () => {
    expect(run('normal-day').h.signals).toEqual([]);
  });
});

// The conventions test (conventions.test.ts) walks RULES; until these are registered, the same checks here.
describe.each(rules.map((r) => [r.id, r] as const))('%s on junk input', (_id, rule) => {
  it('never throws, keeps JSON state, is deterministic, and only emits valid signals', () => {
    const r = prng(rule.id.length * 7919);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const bodies: EventBody[] = [
      active('panic'),
      cleared('panic'),
      active('smoke'),
      cleared('smoke'),
      active('water_leak'),
      cleared('water_leak'),
      { type: 'alarm', kind: 'fall', state: 'active' },
      { type: 'lock', kind: 'forced' },
      { type: 'dose', kind: 'jam' },
      { type: 'status', status: { online: false } },
    ];
    let state = rule.initial();
    for (let i = 0; i < 300; i++) {
      const at = T + Math.floor((r() - 0.5) * 4 * 24 * 60 * MIN);
      const e = event(pick(['d1', 'd2', '']), pick(bodies), at, pick(['h001', 'h001', null]));
      const input: RuleInput =
        r() < 0.8
          ? { type: 'event', event: { ...e, observedAt: pick([e.observedAt, 'not a date']) } }
          : { type: 'timer', key: pick(['', 'x', 'quiet']), at, subject: 'd1' };
      const ctx = { now: input.type === 'timer' ? input.at : T, plan: plan(), params: rule.defaults.parse({}) };
      if (input.type !== 'timer') expect(() => rule.subjects(input, ctx)).not.toThrow();
      const a = rule.step(state, input, ctx);
      expect(rule.step(JSON.parse(JSON.stringify(state)) as unknown, input, ctx)).toEqual(a);
      expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
      for (const s of a.signals) expect(() => AlertSignalSchema.parse(s)).not.toThrow();
      state = a.state;
    }
  });
});
