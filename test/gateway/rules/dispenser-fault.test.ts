import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { AlertSignalSchema } from '../../../gateway/alerts/signal.js';
import type { AnyRule, RuleInput } from '../../../gateway/rules/contract.js';
import { dispenserFaultRule } from '../../../gateway/rules/dispenser-fault.js';
import { deviceTrace } from '../../../simulators/devices/index.js';
import { deviceContext, expandFleet, loadScenario } from '../../../simulators/scenario/index.js';
import { compareTranscript, loadTranscript } from '../../../simulators/transcript.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// dispenser-fault on the shared virtual clock, home h001 in Europe/Oslo. Only this rule runs (missed-dose
// has its own tests), so no dose deadlines interfere.
const T = Date.parse('2026-03-10T08:30:00Z'); // 09:30 CET, as in dispenser-jam.yaml
const D = 'disp-1';
const rules: AnyRule[] = [dispenserFaultRule];
const dose = (kind: Extract<EventBody, { type: 'dose' }>['kind']): EventBody => ({ type: 'dose', kind });
const start = (over: Parameters<typeof plan>[0] = {}) => harness({ start: T, plans: [plan(over)], rules });

describe('dispenser-fault: jam and empty', () => {
  it('jam raises high, care, at once, for <device>:jam; repeats do not; the next dispense clears it, once', () => {
    const h = start();
    const jam = h.send(D, dose('jam'));
    h.engine.handleEvents([jam]);
    h.clock.advanceBy(MIN);
    h.send(D, dose('jam'));
    h.send(D, dose('due'));
    h.send(D, dose('not_dispensed'));
    expect(h.raised()).toMatchObject([
      { rule: 'dispenser-fault', subject: `${D}:jam`, severity: 'high', kind: 'care', title: 'Dispenser jammed', at: T, homeId: 'h001' },
    ]);
    expect(h.cleared()).toEqual([]);
    h.clock.advanceBy(3 * 60 * MIN);
    h.send(D, dose('dispensed'));
    h.send(D, dose('dispensed'));
    expect(h.cleared()).toMatchObject([{ subject: `${D}:jam`, title: 'Dispenser dispensing again' }]);
    expect(h.raised()).toHaveLength(1);
  });

  it('a jam after the clear is a new alert; two dispensers are independent', () => {
    const h = start();
    h.send(D, dose('jam'));
    h.send('disp-2', dose('empty'));
    h.send(D, dose('dispensed'));
    h.clock.advanceBy(60 * MIN);
    h.send(D, dose('jam'));
    expect(h.raised().map((s) => s.subject)).toEqual([`${D}:jam`, 'disp-2:empty', `${D}:jam`]);
    expect(h.cleared().map((s) => s.subject)).toEqual([`${D}:jam`]);
  });

  it('jam and empty at once are two alerts; one dispense clears both', () => {
    const h = start();
    h.send(D, dose('empty'));
    h.send(D, dose('jam'));
    h.clock.advanceBy(MIN);
    h.send(D, dose('dispensed'));
    expect(h.raised().map((s) => [s.subject, s.title])).toEqual([
      [`${D}:empty`, 'Dispenser empty'],
      [`${D}:jam`, 'Dispenser jammed'],
    ]);
    expect(
      h
        .cleared()
        .map((s) => s.subject)
        .sort(),
    ).toEqual([`${D}:empty`, `${D}:jam`]);
  });

  it('taken does not clear a jam for a dispenser that reports dispensed (the dose may predate the jam)', () => {
    const h = start();
    h.send(D, dose('dispensed'));
    h.send(D, dose('jam'));
    h.clock.advanceBy(5 * MIN);
    h.send(D, dose('taken'));
    expect(h.cleared()).toEqual([]);
  });

  it('a dispenser that only ever reports taken: taken is its dispense and clears', () => {
    const h = start();
    h.send(D, dose('jam'));
    h.clock.advanceBy(5 * MIN);
    h.send(D, dose('taken'));
    expect(h.cleared()).toMatchObject([{ subject: `${D}:jam` }]);
  });

  it('a late dispensed from before the jam (store and forward) clears nothing', () => {
    const h = start();
    h.send(D, dose('jam'));
    h.clock.advanceBy(10 * MIN);
    h.engine.handleEvents([event(D, dose('dispensed'), T - MIN)]);
    expect(h.cleared()).toEqual([]);
  });
});

describe('dispenser-fault: power', () => {
  it('power_lost raises <device>:power; a dispense on the backup cell does not clear; power_restored does, once', () => {
    const h = start();
    h.send(D, dose('power_lost'));
    h.send(D, dose('power_lost'));
    h.clock.advanceBy(30 * MIN);
    h.send(D, dose('dispensed'));
    expect(h.raised()).toMatchObject([{ subject: `${D}:power`, severity: 'high', kind: 'care', title: 'Dispenser lost mains power' }]);
    expect(h.cleared()).toEqual([]);
    h.send(D, dose('power_restored'));
    h.send(D, dose('power_restored'));
    expect(h.cleared()).toMatchObject([{ subject: `${D}:power`, title: 'Dispenser power restored' }]);
  });

  it('power_restored with nothing raised, and unrelated dose events, signal nothing', () => {
    const h = start();
    for (const k of ['power_restored', 'due', 'dispensed', 'taken', 'missed', 'late', 'tamper'] as const) h.send(D, dose(k));
    expect(h.signals).toEqual([]);
  });
});

describe('dispenser-fault: refill notice', () => {
  it('refill_needed raises low for <device>:refill, once; it clears on the dispense that proves a refill (the 4th)', () => {
    const h = start();
    h.send(D, dose('refill_needed'));
    h.send(D, dose('refill_needed'));
    expect(h.raised()).toMatchObject([{ subject: `${D}:refill`, severity: 'low', kind: 'care', title: 'Dispenser needs a refill' }]);
    // A day's doses were left: three dispenses prove nothing yet.
    for (let i = 0; i < 3; i++) {
      h.clock.advanceBy(6 * 60 * MIN);
      const e = h.send(D, dose('dispensed'));
      h.engine.handleEvents([e]); // a redelivered copy does not count twice
    }
    expect(h.cleared()).toEqual([]);
    h.clock.advanceBy(6 * 60 * MIN);
    h.send(D, dose('dispensed'));
    expect(h.cleared()).toMatchObject([{ subject: `${D}:refill`, title: 'Dispenser refilled' }]);
  });

  it('ran empty after the notice: the dispense after the refill clears both empty and the notice', () => {
    const h = start();
    h.send(D, dose('refill_needed'));
    h.clock.advanceBy(60 * MIN);
    h.send(D, dose('empty'));
    h.clock.advanceBy(60 * MIN);
    h.send(D, dose('dispensed'));
    expect(h.raised().map((s) => s.subject)).toEqual([`${D}:refill`, `${D}:empty`]);
    expect(
      h
        .cleared()
        .map((s) => s.subject)
        .sort(),
    ).toEqual([`${D}:empty`, `${D}:refill`]);
  });

  it('the proof count follows the home override; refillNotice off raises nothing', () => {
    const h = start({ overrides: { 'dispenser-fault': { dosesLeftAtNotice: 1 } } });
    h.send(D, dose('refill_needed'));
    h.send(D, dose('dispensed'));
    expect(h.cleared()).toEqual([]);
    h.send(D, dose('dispensed'));
    expect(h.cleared()).toHaveLength(1);
    const off = start({ overrides: { 'dispenser-fault': { refillNotice: 'off' } } });
    off.send(D, dose('refill_needed'));
    expect(off.signals).toEqual([]);
  });

  it('defaults parse', () => {
    expect(dispenserFaultRule.defaults.parse({})).toEqual({ refillNotice: 'alert', dosesLeftAtNotice: 3 });
  });
});

// The simulator's dispensers (simulators/devices/dispenser.ts) through the rule, events as the devices meant them.
describe('dispenser-fault against the simulator', () => {
  const dir = new URL('../../../simulators/scenarios/', import.meta.url).pathname;
  function run(name: string) {
    const s = loadScenario(`${dir}${name}.yaml`);
    const inputs: { at: number; home: string; device: string; body: EventBody }[] = [];
    for (const spec of expandFleet(s).filter((d) => d.kind === 'dispenser'))
      for (const { action, events } of deviceTrace(spec, deviceContext(s, spec)))
        for (const e of events) if (e.type === 'dose') inputs.push({ at: action.at, home: spec.home, device: spec.id, body: dose(e.kind) });
    inputs.sort((x, y) => x.at - y.at);
    const h = harness({ start: s.start, plans: s.homes.map((homeId) => plan({ homeId, doses: [] })), rules });
    for (const i of inputs) {
      h.clock.advanceTo(i.at);
      h.engine.handleEvents([event(i.device, i.body, i.at, i.home)]);
    }
    h.clock.advanceTo(s.end);
    return { s, h };
  }

  it.each(['dispenser-jam', 'dispenser-empty'])('%s.yaml meets its transcript', (name) => {
    const { s, h } = run(name);
    const actual = h
      .raised()
      .map((a) => ({ rule: a.rule, home: a.homeId ?? '', subject: a.subject, severity: a.severity, raisedAt: a.at }));
    const result = compareTranscript(loadTranscript(`${dir}${name}.alerts.yaml`, s), actual, s.start);
    expect(result.ok, result.text).toBe(true);
  });

  it('normal-day.yaml: no fault alert; its only signals are the low refill notices of the homes that ask for a refill', () => {
    // normal-day.alerts.yaml is empty: with refillNotice 'alert' (the default) these notices are "unexpected"
    // there. Which way to resolve that is the lead's call (see the rule's header); this test keeps it visible.
    const { h } = run('normal-day');
    expect(h.raised().length).toBeGreaterThan(0);
    for (const a of h.raised()) expect([a.subject.endsWith(':refill'), a.severity]).toEqual([true, 'low']);
  });
});

// The conventions test walks RULES; until this rule is registered, the same checks here.
describe('dispenser-fault on junk input', () => {
  it('never throws, keeps JSON state, is deterministic, and only emits valid signals', () => {
    const r = prng(4711);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const kinds = ['jam', 'empty', 'power_lost', 'power_restored', 'refill_needed', 'dispensed', 'taken', 'due'] as const;
    const bodies: EventBody[] = [...kinds.map(dose), { type: 'lock', kind: 'forced' }, { type: 'status', status: { online: true } }];
    let state = dispenserFaultRule.initial();
    for (let i = 0; i < 400; i++) {
      const at = T + Math.floor((r() - 0.5) * 4 * 24 * 60 * MIN);
      const e = event(pick(['d1', 'd2', '']), pick(bodies), at, pick(['h001', 'h001', null]));
      const input: RuleInput =
        r() < 0.85
          ? { type: 'event', event: { ...e, observedAt: pick([e.observedAt, 'not a date']) } }
          : r() < 0.5
            ? { type: 'timer', key: pick(['', 'x']), at, subject: 'd1' }
            : { type: 'device-status', deviceId: 'd1', homeId: 'h001', online: false, at };
      const ctx = { now: T, plan: plan(), params: dispenserFaultRule.defaults.parse({}) };
      if (input.type !== 'timer') expect(() => dispenserFaultRule.subjects(input, ctx)).not.toThrow();
      const a = dispenserFaultRule.step(state, input, ctx);
      expect(dispenserFaultRule.step(JSON.parse(JSON.stringify(state)) as typeof state, input, ctx)).toEqual(a);
      expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
      for (const s of a.signals) expect(() => AlertSignalSchema.parse(s)).not.toThrow();
      state = a.state;
    }
  });
});
