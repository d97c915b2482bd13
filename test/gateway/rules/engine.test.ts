import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRule, type AnyRule } from '../../../gateway/rules/contract.js';
import { fallRule } from '../../../gateway/rules/fall.js';
import { missedDoseRule } from '../../../gateway/rules/missed-dose.js';
import { RULES } from '../../../gateway/rules/registry.js';
import { event, harness, MIN, plan } from './support.js';

// The engine's own guarantees, on the shared virtual clock (simulators/clock.ts).
const T = Date.parse('2026-03-10T11:00:00Z');

// Counts alarms; throws on every `cleared` alarm (a stand-in for a rule with a bug on one input).
const counter = defineRule<{ n: number }, { explode: boolean }>({
  id: 'panic',
  version: 1,
  defaults: z.object({ explode: z.boolean().default(true) }),
  initial: () => ({ n: 0 }),
  subjects: (input) => (input.type === 'event' && input.event.body.type === 'alarm' ? ['panic'] : []),
  step(state, input, ctx) {
    const b = input.type === 'event' ? input.event.body : undefined;
    if (ctx.params.explode && b?.type === 'alarm' && b.state === 'cleared') throw new Error('boom with health data that must not leave');
    return { state: { n: state.n + 1 }, signals: [], timers: [] };
  },
}) as AnyRule;

describe('rule engine', () => {
  it('a throwing rule is isolated: state untouched, logged, one rule-failure alert, other rules still run; recovery clears', () => {
    const h = harness({ start: T, plans: [plan({ doses: [] })], rules: [counter, fallRule] });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'active' });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'cleared' });
    h.send('p-1', { type: 'alarm', kind: 'fall', state: 'active' });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'cleared' });
    const state = (): unknown => h.db.prepare("SELECT state FROM rule_state WHERE rule = 'panic'").pluck().get();
    // The fall alarm was counted (n 1 → 2), the two cleared ones were not.
    expect(state()).toBe('{"n":2}');
    // Failing, working (the fall alarm), failing again: raise, clear, raise — never two raises in a row.
    expect(h.signals.filter((x) => x.rule === 'rule-failure').map((x) => x.action)).toEqual(['raise', 'clear', 'raise']);
    expect(h.raised('rule-failure')[0]).toMatchObject({ subject: 'panic', kind: 'technical', homeId: 'h001' });
    expect(JSON.stringify(h.raised('rule-failure'))).not.toContain('health');
    expect(h.raised('fall')).toHaveLength(1);
    expect(h.logs.filter((l) => l.level === 'error')).toHaveLength(2);
    expect(JSON.stringify(h.logs)).not.toContain('p-1'); // no event payloads in logs
  });

  it('a rule that mutates the state it was handed is isolated and cannot corrupt the cached state', () => {
    // Counts alarms like `counter`, but in place (a bug: rules are pure) on every `cleared` alarm.
    const mutating = defineRule<{ n: number }, Record<string, never>>({
      id: 'panic',
      version: 1,
      defaults: z.object({}),
      initial: () => ({ n: 0 }),
      subjects: (input) => (input.type === 'event' && input.event.body.type === 'alarm' ? ['panic'] : []),
      step(state, input) {
        const b = input.type === 'event' ? input.event.body : undefined;
        if (b?.type === 'alarm' && b.state === 'cleared') {
          state.n += 100;
          return { state, signals: [], timers: [] };
        }
        return { state: { n: state.n + 1 }, signals: [], timers: [] };
      },
    }) as AnyRule;
    const h = harness({ start: T, plans: [plan({ doses: [] })], rules: [mutating] });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'active' });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'cleared' });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'active' });
    // The in-place change threw (the cached state is frozen) and was isolated; the next step saw n = 1, not 101.
    expect(h.db.prepare("SELECT state FROM rule_state WHERE rule = 'panic'").pluck().get()).toBe('{"n":2}');
    expect(h.signals.filter((x) => x.rule === 'rule-failure').map((x) => x.action)).toEqual(['raise', 'clear']);
  });

  it('a failing rule recovers: the rule-failure alert clears on its next good step', () => {
    const h = harness({ start: T, plans: [plan({ doses: [] })], rules: [counter] });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'cleared' });
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'cleared' });
    expect(h.raised('rule-failure')).toHaveLength(1);
    expect(h.cleared('rule-failure')).toHaveLength(0);
    h.send('p-1', { type: 'alarm', kind: 'panic', state: 'active' });
    expect(h.cleared('rule-failure')).toMatchObject([{ subject: 'panic' }]);
  });

  it("a rule-failure alert still active from before a restart clears on the rule's next good step", () => {
    const a = harness({ start: T, plans: [plan({ doses: [] })], rules: [counter] });
    a.send('p-1', { type: 'alarm', kind: 'panic', state: 'cleared' });
    expect(a.raised('rule-failure')).toHaveLength(1);
    a.engine.close();
    // A new process on the same database, told by the alert store what is still open.
    const still = a.raised('rule-failure').map((s) => ({ homeId: s.homeId ?? '', subject: s.subject }));
    const b = harness({ start: T, plans: [plan({ doses: [] })], rules: [counter], db: a.db, clock: a.clock, openFailures: () => still });
    b.send('p-1', { type: 'alarm', kind: 'panic', state: 'active' });
    expect(b.cleared('rule-failure')).toMatchObject([{ subject: 'panic', homeId: 'h001' }]);
  });

  it('an invalid override falls back to the defaults, with a warning', () => {
    const h = harness({ start: T, plans: [plan({ doses: [], overrides: { 'door-left-open': { minutes: 'ten' } } })] });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.clock.advanceBy(10 * MIN);
    expect(h.raised('door-left-open')).toHaveLength(1);
    expect(h.logs.some((l) => l.level === 'warn')).toBe(true);
  });

  it('a home armed for the first time after a dose time does not miss that dose; the next day it does', () => {
    // 08:00 CET dose, window 60 + grace 30: deadline 09:30 CET. The gateway first sees the home at 09:00 CET.
    const h = harness({ start: Date.parse('2026-03-10T08:00:00Z'), rules: [missedDoseRule] });
    h.clock.advanceTo(Date.parse('2026-03-10T09:00:00Z'));
    expect(h.raised('missed-dose')).toEqual([]);
    h.clock.advanceTo(Date.parse('2026-03-11T08:30:00Z'));
    expect(h.raised('missed-dose').map((s) => s.subject)).toEqual(['2026-03-11T08:00']);
  });

  it('a plan edit keeps a started dose that was armed, and does not arm one that started before the edit', () => {
    // Armed at 07:00 CET with an 08:00 dose (deadline 09:30). At 08:30 the plan gains 08:15 (already started).
    const p = plan();
    const plans = [p];
    const h = harness({ start: Date.parse('2026-03-10T06:00:00Z'), plans, rules: [missedDoseRule] });
    h.clock.advanceTo(Date.parse('2026-03-10T07:30:00Z'));
    plans[0] = { ...p, doses: [...p.doses, { time: '08:15', windowMinutes: 30, graceMinutes: 0, weekdays: [1, 2, 3, 4, 5, 6, 7] }] };
    h.engine.replan('h001');
    h.clock.advanceTo(Date.parse('2026-03-10T09:00:00Z'));
    expect(h.raised('missed-dose').map((s) => s.subject)).toEqual(['2026-03-10T08:00']);
    // The next day both are watched from the start.
    h.clock.advanceTo(Date.parse('2026-03-11T09:00:00Z'));
    expect(h.raised('missed-dose').map((s) => s.subject)).toEqual(['2026-03-10T08:00', '2026-03-11T08:15', '2026-03-11T08:00']);
  });

  it('events of unknown or unassigned homes are skipped', () => {
    const h = harness({ start: T, plans: [plan({ doses: [] })] });
    h.send('f', { type: 'alarm', kind: 'fall', state: 'active' }, 'h999');
    h.engine.handleEvents([event('x', { type: 'alarm', kind: 'smoke', state: 'active' }, T, null)]);
    expect(h.signals).toEqual([]);
  });

  it('replan: a dose added today is armed; a dose removed no longer raises', () => {
    const p = plan({ doses: [] });
    const plans = [p];
    const h = harness({ start: T, plans });
    plans[0] = { ...p, doses: [{ time: '14:00', windowMinutes: 30, graceMinutes: 0, weekdays: [1, 2, 3, 4, 5, 6, 7] }] };
    h.engine.replan('h001');
    h.clock.advanceTo(Date.parse('2026-03-10T13:30:00Z'));
    expect(h.raised('missed-dose').map((s) => s.subject)).toEqual(['2026-03-10T14:00']);
    plans[0] = p;
    h.engine.replan('h001');
    h.clock.advanceBy(3 * 24 * 60 * MIN);
    expect(h.raised('missed-dose')).toHaveLength(1);
  });

  it('close() leaves nothing armed on the clock', () => {
    const h = harness({ start: T });
    expect(h.engine.armedTimers()).toBeGreaterThan(0);
    h.engine.close();
    expect(h.clock.pending()).toBe(0);
  });

  it('a rule state of another version is discarded, not fed to the rule', () => {
    const h = harness({ start: T, plans: [plan({ doses: [] })], rules: RULES });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.db.prepare("UPDATE rule_state SET rule_version = 0, state = '{\"weird\":1}' WHERE rule = 'door-left-open'").run();
    h.send('door-1', { type: 'lock', kind: 'closed' });
    expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
