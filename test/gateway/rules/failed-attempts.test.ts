import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { AlertSignalSchema } from '../../../gateway/alerts/signal.js';
import { openDatabase } from '../../../gateway/db/sqlite.js';
import type { AnyRule, RuleInput } from '../../../gateway/rules/contract.js';
import { failedAttemptsRule } from '../../../gateway/rules/failed-attempts.js';
import { virtualClock } from '../../../simulators/clock.js';
import { deviceTrace } from '../../../simulators/devices/index.js';
import { deviceContext, expandFleet, loadScenario } from '../../../simulators/scenario/index.js';
import { compareTranscript, loadTranscript } from '../../../simulators/transcript.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// failed-attempts on the shared virtual clock, home h001 in Europe/Oslo. Defaults: 3 within 10 min, cleared
// by an unlock or after 30 quiet minutes.
const T = Date.parse('2026-03-10T14:00:00Z'); // 15:00 CET, as in failed-attempts.yaml
const L = 'lock-1';
const rules: AnyRule[] = [failedAttemptsRule];
const failed: EventBody = { type: 'lock', kind: 'failed_attempt', method: 'keypad' };
const unlocked: EventBody = { type: 'lock', kind: 'unlocked', method: 'rfid', credentialRef: 'tag-0001' };
const start = (over: Parameters<typeof plan>[0] = {}) => harness({ start: T, plans: [plan({ doses: [], ...over })], rules });
const timers = (h: ReturnType<typeof start>): unknown =>
  h.db.prepare("SELECT count(*) FROM rule_timers WHERE rule = 'failed-attempts'").pluck().get();

describe('failed-attempts', () => {
  it('the scenario (5 attempts 40–50 s apart): one alert at the third; cleared 30 quiet minutes after the last', () => {
    const h = start();
    const offsets = [0, 47, 90, 134, 184];
    for (const s of offsets) {
      h.clock.advanceTo(T + s * 1000);
      h.send(L, failed);
    }
    expect(h.raised()).toMatchObject([
      { rule: 'failed-attempts', subject: L, severity: 'medium', kind: 'care', title: 'Repeated failed unlock attempts', at: T + 90_000 },
    ]);
    const last = T + 184_000;
    h.clock.advanceTo(last + 30 * MIN - 1);
    expect(h.cleared()).toEqual([]);
    h.clock.advanceTo(last + 30 * MIN);
    expect(h.cleared()).toMatchObject([{ subject: L, at: last + 30 * MIN, title: 'No more failed attempts' }]);
    expect(h.raised()).toHaveLength(1);
    expect(timers(h)).toBe(0);
  });

  it('two mistakes and then the right code: nothing, and the count starts again', () => {
    const h = start();
    h.send(L, failed);
    h.clock.advanceBy(20_000);
    h.send(L, failed);
    h.clock.advanceBy(20_000);
    h.send(L, unlocked);
    h.clock.advanceBy(MIN);
    h.send(L, failed);
    h.send(L, failed);
    expect(h.signals).toEqual([]);
    h.send(L, failed);
    expect(h.raised()).toHaveLength(1);
  });

  it('boundary: the third attempt exactly 10 min after the first raises; one second later does not', () => {
    const late = start();
    late.send(L, failed);
    late.clock.advanceBy(5 * MIN);
    late.send(L, failed);
    late.clock.advanceTo(T + 10 * MIN + 1000);
    late.send(L, failed);
    expect(late.signals).toEqual([]);

    const onTime = start();
    onTime.send(L, failed);
    onTime.clock.advanceBy(5 * MIN);
    onTime.send(L, failed);
    onTime.clock.advanceTo(T + 10 * MIN);
    onTime.send(L, failed);
    expect(onTime.raised()).toHaveLength(1);
  });

  it('an unlock after the attempts clears at once and drops the quiet timer', () => {
    const h = start();
    for (let i = 0; i < 4; i++) h.send(L, failed);
    h.clock.advanceBy(5 * MIN);
    h.send(L, unlocked);
    expect(h.cleared()).toMatchObject([{ subject: L, title: 'Door unlocked', at: T + 5 * MIN }]);
    expect(timers(h)).toBe(0);
    h.clock.advanceBy(60 * MIN);
    expect(h.cleared()).toHaveLength(1);
  });

  it('more attempts while raised push the quiet period on, and raise nothing new', () => {
    const h = start();
    for (let i = 0; i < 3; i++) h.send(L, failed);
    h.clock.advanceBy(20 * MIN);
    h.send(L, failed);
    h.clock.advanceTo(T + 30 * MIN);
    expect(h.cleared()).toEqual([]);
    h.clock.advanceTo(T + 50 * MIN);
    expect(h.cleared()).toMatchObject([{ at: T + 50 * MIN }]);
    expect(h.raised()).toHaveLength(1);
  });

  it('a redelivered attempt counts once; a late unlock from before the attempts clears nothing', () => {
    const h = start();
    const a = h.send(L, failed);
    h.engine.handleEvents([a, a]);
    h.send(L, failed);
    expect(h.signals).toEqual([]);
    h.send(L, failed);
    h.engine.handleEvents([event(L, unlocked, T - MIN)]);
    expect(h.raised()).toHaveLength(1);
    expect(h.cleared()).toEqual([]);
  });

  it('count, window and quiet period come from the home override; other locks are separate', () => {
    const h = start({ overrides: { 'failed-attempts': { count: 5, withinMinutes: 2, quietMinutes: 5 } } });
    for (let i = 0; i < 4; i++) h.send(L, failed);
    h.send('lock-2', failed);
    expect(h.signals).toEqual([]);
    h.send(L, failed);
    h.clock.advanceBy(5 * MIN);
    expect(h.signals.map((s) => [s.action, s.subject])).toEqual([
      ['raise', L],
      ['clear', L],
    ]);
  });

  it('every staff visit unlocks: with no attempts counted that changes no state (nothing rewritten)', () => {
    const h = start();
    for (let i = 0; i < 3; i++) {
      h.send(L, unlocked);
      h.clock.advanceBy(60 * MIN);
    }
    expect(h.signals).toEqual([]);
    expect(h.db.prepare("SELECT updated_at FROM rule_state WHERE rule = 'failed-attempts'").pluck().all()).toEqual([
      new Date(T).toISOString(),
    ]);
  });
});

describe('failed-attempts across a restart', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('engine A raises and dies; engine B on the same file clears at the end of the quiet period, once', () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-rules-'));
    const path = join(dir, 'tryggheim.sqlite');
    const plans = [plan({ doses: [] })];
    const a = harness({ start: T, plans, rules, db: openDatabase(path) });
    for (let i = 0; i < 3; i++) a.send(L, failed);
    a.clock.advanceBy(10 * MIN);
    // The crash: no close(); A's clock stops with it.
    const b = harness({ start: T + 12 * MIN, plans, rules, db: openDatabase(path), clock: virtualClock(T + 12 * MIN) });
    b.clock.advanceTo(T + 30 * MIN - 1);
    expect(b.signals).toEqual([]);
    b.clock.advanceTo(T + 2 * 60 * MIN);
    expect(a.raised()).toHaveLength(1);
    expect(b.cleared()).toMatchObject([{ subject: L, at: T + 30 * MIN }]);
    expect(b.raised()).toEqual([]);
    a.db.close();
    b.db.close();
  });
});

// The simulator's locks (simulators/devices/lock.ts, home-plan.ts) through the rule, events as the devices meant them.
describe('failed-attempts against the simulator', () => {
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

  it('failed-attempts.yaml meets its transcript', () => {
    const { s, h } = run('failed-attempts');
    const actual = h
      .raised()
      .map((a) => ({ rule: a.rule, home: a.homeId ?? '', subject: a.subject, severity: a.severity, raisedAt: a.at }));
    const result = compareTranscript(loadTranscript(`${dir}failed-attempts.alerts.yaml`, s), actual, s.start);
    expect(result.ok, result.text).toBe(true);
  });

  it('normal-day.yaml (20 homes, every staff visit) raises nothing', () => {
    const { h, locks } = run('normal-day');
    expect(locks).toBeGreaterThan(100);
    expect(h.signals).toEqual([]);
  });
});

// The conventions test walks RULES; until this rule is registered, the same checks here.
describe('failed-attempts on junk input', () => {
  it('never throws, keeps JSON state, is deterministic, and only emits valid signals', () => {
    const r = prng(1008);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const bodies: EventBody[] = [failed, failed, unlocked, { type: 'lock', kind: 'unlocked' }, { type: 'lock', kind: 'forced' }];
    let state = failedAttemptsRule.initial();
    for (let i = 0; i < 400; i++) {
      const at = T + Math.floor((r() - 0.5) * 2 * 60 * MIN);
      const e = event(pick(['d1', 'd2', '']), pick(bodies), at, pick(['h001', 'h001', null]));
      const input: RuleInput =
        r() < 0.8
          ? { type: 'event', event: { ...e, eventId: pick([e.eventId, '0'.repeat(32)]), observedAt: pick([e.observedAt, 'not a date']) } }
          : { type: 'timer', key: pick(['', 'quiet', 'x']), at, subject: 'd1' };
      const ctx = { now: input.type === 'timer' ? input.at : T, plan: plan(), params: failedAttemptsRule.defaults.parse({}) };
      if (input.type !== 'timer') expect(() => failedAttemptsRule.subjects(input, ctx)).not.toThrow();
      const out = failedAttemptsRule.step(state, input, ctx);
      expect(failedAttemptsRule.step(JSON.parse(JSON.stringify(state)) as typeof state, input, ctx)).toEqual(out);
      expect(JSON.parse(JSON.stringify(out.state))).toEqual(out.state);
      for (const s of out.signals) expect(() => AlertSignalSchema.parse(s)).not.toThrow();
      for (const t of out.timers) expect(Number.isFinite(t.at) && t.key.length > 0).toBe(true);
      expect(out.state.attempts.length).toBeLessThanOrEqual(100);
      state = out.state;
    }
  });
});
