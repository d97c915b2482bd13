import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { AlertSignalSchema } from '../../../gateway/alerts/signal.js';
import type { AnyRule, RuleInput } from '../../../gateway/rules/contract.js';
import { doorForcedRule } from '../../../gateway/rules/door-forced.js';
import { deviceTrace } from '../../../simulators/devices/index.js';
import { deviceContext, expandFleet, loadScenario } from '../../../simulators/scenario/index.js';
import { compareTranscript, loadTranscript } from '../../../simulators/transcript.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// door-forced on the shared virtual clock, home h001 in Europe/Oslo, night window 22:00–07:00.
const DAY_T = Date.parse('2026-03-10T13:00:00Z'); // 14:00 CET, as in door-forced.yaml
const NIGHT_T = Date.parse('2026-03-11T01:30:00Z'); // 02:30 CET
const rules: AnyRule[] = [doorForcedRule];
const lock = (kind: Extract<EventBody, { type: 'lock' }>['kind'], method?: 'auto' | 'rfid' | 'manual'): EventBody =>
  method === undefined ? { type: 'lock', kind } : { type: 'lock', kind, method };
const start = (t: number, over: Parameters<typeof plan>[0] = {}) => harness({ start: t, plans: [plan({ doses: [], ...over })], rules });

describe('door-forced', () => {
  it('forced by day raises high at once for the lock; repeats do not; open/close do not clear; locked does, once', () => {
    const h = start(DAY_T);
    // The simulator's door-forced: forced, opened a second later, pushed shut three minutes on.
    h.send('lock-1', lock('forced'));
    h.clock.advanceBy(1000);
    h.send('lock-1', lock('opened'));
    h.send('lock-1', lock('forced')); // Zigbee2MQTT repeats door_state with every message
    h.clock.advanceBy(3 * MIN);
    h.send('lock-1', lock('closed'));
    expect(h.raised()).toMatchObject([
      { rule: 'door-forced', subject: 'lock-1', severity: 'high', kind: 'care', title: 'Door forced open', at: DAY_T, homeId: 'h001' },
    ]);
    expect(h.cleared()).toEqual([]);
    h.clock.advanceBy(20 * MIN);
    h.send('lock-1', lock('locked', 'rfid'));
    h.send('lock-1', lock('locked', 'auto'));
    expect(h.cleared()).toMatchObject([{ subject: 'lock-1', title: 'Door locked again' }]);
    expect(h.raised()).toHaveLength(1);
  });

  it('forced again after it was cleared raises again', () => {
    const h = start(DAY_T);
    h.send('lock-1', lock('forced'));
    h.send('lock-1', lock('locked', 'auto'));
    h.clock.advanceBy(60 * MIN);
    h.send('lock-1', lock('forced'));
    expect(h.raised()).toHaveLength(2);
  });

  it('inside the night window it is critical', () => {
    const h = start(NIGHT_T);
    h.send('lock-1', lock('forced'));
    expect(h.raised()).toMatchObject([{ severity: 'critical', title: 'Door forced open at night' }]);
  });

  it('the night window edge is local: 06:59 CET critical, 07:00 high', () => {
    const h = start(Date.parse('2026-03-10T05:59:00Z'));
    h.send('lock-1', lock('forced'));
    h.clock.advanceTo(Date.parse('2026-03-10T06:00:00Z'));
    h.send('lock-2', lock('forced'));
    expect(h.raised().map((s) => [s.subject, s.severity])).toEqual([
      ['lock-1', 'critical'],
      ['lock-2', 'high'],
    ]);
  });

  it('severities come from the home override', () => {
    const h = start(NIGHT_T, { overrides: { 'door-forced': { nightSeverity: 'high', severity: 'medium' } } });
    h.send('lock-1', lock('forced'));
    expect(h.raised()).toMatchObject([{ severity: 'high' }]);
  });

  it('a late locked from before the forcing does not clear; a late copy of the forcing after the clear does not raise', () => {
    const h = start(DAY_T);
    const forced = h.send('lock-1', lock('forced'));
    h.clock.advanceBy(5 * MIN);
    h.engine.handleEvents([event('lock-1', lock('locked', 'auto'), DAY_T - MIN)]);
    expect(h.cleared()).toEqual([]);
    h.send('lock-1', lock('locked', 'auto'));
    h.engine.handleEvents([forced]);
    expect(h.raised()).toHaveLength(1);
    expect(h.cleared()).toHaveLength(1);
  });

  it('other lock events and a locked with nothing raised signal nothing', () => {
    const h = start(DAY_T);
    for (const k of ['locked', 'unlocked', 'opened', 'closed', 'left_open', 'jammed', 'failed_attempt'] as const) h.send('lock-1', lock(k));
    expect(h.signals).toEqual([]);
  });
});

// The simulator's locks (simulators/devices/lock.ts, home-plan.ts) through the rule, events as the devices meant them.
describe('door-forced against the simulator', () => {
  const dir = new URL('../../../simulators/scenarios/', import.meta.url).pathname;
  function run(name: string) {
    const s = loadScenario(`${dir}${name}.yaml`);
    const inputs: { at: number; home: string; device: string; body: EventBody }[] = [];
    for (const spec of expandFleet(s).filter((d) => d.kind === 'lock'))
      for (const { action, events } of deviceTrace(spec, deviceContext(s, spec)))
        for (const e of events)
          if (e.type === 'lock') {
            const body: EventBody = {
              type: 'lock',
              kind: e.kind,
              ...(e.method === undefined ? {} : { method: e.method }),
              ...(e.credentialRef === undefined ? {} : { credentialRef: e.credentialRef }),
            };
            inputs.push({ at: action.at, home: spec.home, device: spec.id, body });
          }
    inputs.sort((x, y) => x.at - y.at);
    const h = harness({ start: s.start, plans: s.homes.map((homeId) => plan({ homeId, doses: [] })), rules });
    for (const i of inputs) {
      h.clock.advanceTo(i.at);
      h.engine.handleEvents([event(i.device, i.body, i.at, i.home)]);
    }
    h.clock.advanceTo(s.end);
    return { s, h, locks: inputs.length };
  }

  it('door-forced.yaml meets its transcript', () => {
    const { s, h } = run('door-forced');
    const actual = h
      .raised()
      .map((a) => ({ rule: a.rule, home: a.homeId ?? '', subject: a.subject, severity: a.severity, raisedAt: a.at }));
    const result = compareTranscript(loadTranscript(`${dir}door-forced.alerts.yaml`, s), actual, s.start);
    expect(result.ok, result.text).toBe(true);
  });

  it('normal-day.yaml (20 homes, every staff visit) raises nothing', () => {
    const { h, locks } = run('normal-day');
    expect(locks).toBeGreaterThan(100);
    expect(h.signals).toEqual([]);
  });
});

// The conventions test walks RULES; until this rule is registered, the same checks here.
describe('door-forced on junk input', () => {
  it('never throws, keeps JSON state, is deterministic, and only emits valid signals', () => {
    const r = prng(1007);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const bodies: EventBody[] = [lock('forced'), lock('locked', 'auto'), lock('opened'), { type: 'dose', kind: 'jam' }];
    let state = doorForcedRule.initial();
    for (let i = 0; i < 300; i++) {
      const at = DAY_T + Math.floor((r() - 0.5) * 4 * 24 * 60 * MIN);
      const e = event(pick(['d1', 'd2', '']), pick(bodies), at, pick(['h001', 'h001', null]));
      const input: RuleInput =
        r() < 0.85
          ? { type: 'event', event: { ...e, observedAt: pick([e.observedAt, 'not a date']) } }
          : { type: 'timer', key: pick(['', 'x']), at, subject: 'd1' };
      const ctx = { now: DAY_T, plan: plan(), params: doorForcedRule.defaults.parse({}) };
      if (input.type !== 'timer') expect(() => doorForcedRule.subjects(input, ctx)).not.toThrow();
      const a = doorForcedRule.step(state, input, ctx);
      expect(doorForcedRule.step(JSON.parse(JSON.stringify(state)) as typeof state, input, ctx)).toEqual(a);
      expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
      for (const s of a.signals) expect(() => AlertSignalSchema.parse(s)).not.toThrow();
      state = a.state;
    }
  });
});
