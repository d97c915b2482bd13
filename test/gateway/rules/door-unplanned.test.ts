import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { AlertSignalSchema } from '../../../gateway/alerts/signal.js';
import type { PlannedVisit } from '../../../gateway/care/model.js';
import type { AnyRule, RuleInput } from '../../../gateway/rules/contract.js';
import { doorUnplannedRule } from '../../../gateway/rules/door-unplanned.js';
import { deviceTrace } from '../../../simulators/devices/index.js';
import { deviceContext, expandFleet, loadScenario } from '../../../simulators/scenario/index.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// door-unplanned on the shared virtual clock, home h001 in Europe/Oslo, night window 22:00–07:00, margin 15 min.
const L = 'lock-1';
const rules: AnyRule[] = [doorUnplannedRule];
const SEC = 1000;
const iso = (s: string): number => Date.parse(s);
const visit = (from: string, to: string): PlannedVisit => ({ from, to });
// 2026-03-10 (CET, UTC+1): visits 08:00–08:30 and 14:00–14:20 local.
const VISITS = [
  visit('2026-03-10T07:00:00.000Z', '2026-03-10T07:30:00.000Z'),
  visit('2026-03-10T13:00:00.000Z', '2026-03-10T13:20:00.000Z'),
];
const keypad: EventBody = { type: 'lock', kind: 'unlocked', method: 'keypad', credentialRef: 'staff-017' };
const locked: EventBody = { type: 'lock', kind: 'locked', method: 'auto' };
const start = (t: number, over: Parameters<typeof plan>[0] = {}) =>
  harness({ start: t, plans: [plan({ doses: [], visits: VISITS, ...over })], rules });

/** Whether an unlock at `t` (fresh engine) raises. */
function raisesAt(t: number, over: Parameters<typeof plan>[0] = {}, body: EventBody = keypad): boolean {
  const h = start(t, over);
  h.send(L, body);
  return h.raised().length > 0;
}

describe('door-unplanned', () => {
  it('unlocked from outside with no visit near raises medium for the lock; repeats do not; locked clears', () => {
    const h = start(iso('2026-03-10T10:00:00Z')); // 11:00 CET
    h.send(L, keypad);
    h.clock.advanceBy(MIN);
    h.send(L, { type: 'lock', kind: 'opened' });
    h.send(L, { type: 'lock', kind: 'unlocked', method: 'rfid' });
    expect(h.raised()).toMatchObject([
      {
        rule: 'door-unplanned',
        subject: L,
        severity: 'medium',
        kind: 'care',
        title: 'Door unlocked outside planned visits',
        homeId: 'h001',
      },
    ]);
    expect(h.raised()[0]?.evidence[0]?.note).toBe('unlocked by keypad');
    expect(JSON.stringify(h.signals)).not.toContain('staff-017');
    h.clock.advanceBy(10 * MIN);
    h.send(L, locked);
    h.send(L, locked);
    expect(h.cleared()).toMatchObject([{ subject: L, title: 'Door locked' }]);
    h.clock.advanceBy(60 * MIN);
    h.send(L, keypad);
    expect(h.raised()).toHaveLength(2);
  });

  it('the margin: 15 min before a visit and 15 min after it are planned; a second further is not', () => {
    expect(raisesAt(iso('2026-03-10T06:45:00Z'))).toBe(false); // 07:45 CET
    expect(raisesAt(iso('2026-03-10T06:44:59Z'))).toBe(true);
    expect(raisesAt(iso('2026-03-10T07:10:00Z'))).toBe(false); // during
    expect(raisesAt(iso('2026-03-10T07:45:00Z'))).toBe(false); // 08:45 CET
    expect(raisesAt(iso('2026-03-10T07:45:01Z'))).toBe(true);
    expect(raisesAt(iso('2026-03-10T13:35:00Z'))).toBe(false); // second visit, 14:35 CET
  });

  it('the patient inside (manual, auto) and unlocks with an unknown or no method raise nothing', () => {
    const t = iso('2026-03-10T10:00:00Z');
    for (const method of ['manual', 'auto', 'unknown'] as const)
      expect(raisesAt(t, {}, { type: 'lock', kind: 'unlocked', method })).toBe(false);
    expect(raisesAt(t, {}, { type: 'lock', kind: 'unlocked' })).toBe(false);
    for (const method of ['key', 'app', 'rfid'] as const) expect(raisesAt(t, {}, { type: 'lock', kind: 'unlocked', method })).toBe(true);
  });

  it('a home with no visit plan stays silent', () => {
    expect(raisesAt(iso('2026-03-10T10:00:00Z'), { visits: [] })).toBe(false);
  });

  it('inside the night window it is door-night’s business: 06:59 and 22:00 silent, 07:00 and 21:59 raise', () => {
    expect(raisesAt(iso('2026-03-10T05:59:00Z'))).toBe(false);
    expect(raisesAt(iso('2026-03-10T06:00:00Z'))).toBe(true);
    expect(raisesAt(iso('2026-03-10T20:59:00Z'))).toBe(true);
    expect(raisesAt(iso('2026-03-10T21:00:00Z'))).toBe(false);
  });

  it('margin and methods come from the home override', () => {
    const t = iso('2026-03-10T06:50:00Z'); // 10 min before the 08:00 visit
    expect(raisesAt(t, { overrides: { 'door-unplanned': { marginMinutes: 5 } } })).toBe(true);
    expect(raisesAt(iso('2026-03-10T10:00:00Z'), { overrides: { 'door-unplanned': { methods: ['rfid'] } } })).toBe(false);
  });

  it('a late copy of the unlock, after the clear, does not raise again; a late locked from before does not clear', () => {
    const t = iso('2026-03-10T10:00:00Z');
    const h = start(t);
    const first = h.send(L, keypad);
    h.clock.advanceBy(5 * MIN);
    h.engine.handleEvents([event(L, locked, t - MIN)]);
    expect(h.cleared()).toEqual([]);
    h.send(L, locked);
    h.engine.handleEvents([first]);
    expect(h.raised()).toHaveLength(1);
    expect(h.cleared()).toHaveLength(1);
  });

  it('malformed visits in a plan cover nothing and break nothing', () => {
    const t = iso('2026-03-10T07:10:00Z');
    expect(raisesAt(t, { visits: [visit('not a date', '2026-03-10T07:30:00.000Z')] })).toBe(true);
  });
});

describe('door-unplanned on daylight-saving days (Europe/Oslo): margins are real minutes, the night window local', () => {
  it('2026-03-29 (spring forward): visit 08:00–08:30 CEST; night ends 07:00 CEST', () => {
    const visits = [visit('2026-03-29T06:00:00.000Z', '2026-03-29T06:30:00.000Z')];
    expect(raisesAt(iso('2026-03-29T05:45:00Z'), { visits })).toBe(false); // 07:45 CEST
    expect(raisesAt(iso('2026-03-29T05:44:59Z'), { visits })).toBe(true);
    expect(raisesAt(iso('2026-03-29T06:45:00Z'), { visits })).toBe(false); // 08:45 CEST
    expect(raisesAt(iso('2026-03-29T06:45:01Z'), { visits })).toBe(true);
    expect(raisesAt(iso('2026-03-29T04:59:00Z'), { visits })).toBe(false); // 06:59 CEST: night
    expect(raisesAt(iso('2026-03-29T05:00:00Z'), { visits })).toBe(true); // 07:00 CEST
  });

  it('2026-10-25 (fall back): visit 08:00–08:30 CET; night ends 07:00 CET', () => {
    const visits = [visit('2026-10-25T07:00:00.000Z', '2026-10-25T07:30:00.000Z')];
    expect(raisesAt(iso('2026-10-25T06:45:00Z'), { visits })).toBe(false); // 07:45 CET
    expect(raisesAt(iso('2026-10-25T06:44:59Z'), { visits })).toBe(true);
    expect(raisesAt(iso('2026-10-25T07:45:00Z'), { visits })).toBe(false);
    expect(raisesAt(iso('2026-10-25T07:45:01Z'), { visits })).toBe(true);
    expect(raisesAt(iso('2026-10-25T05:59:00Z'), { visits })).toBe(false); // 06:59 CET: night
    expect(raisesAt(iso('2026-10-25T06:00:00Z'), { visits })).toBe(true); // 07:00 CET
  });

  it('a visit spanning the repeated hour keeps its real length: the margin counts from the instants', () => {
    // 02:15 CEST → 02:15 CET: the same wall-clock time, 60 real minutes (night moved out of the way for this).
    const visits = [visit('2026-10-25T00:15:00.000Z', '2026-10-25T01:15:00.000Z')];
    const night = { from: '23:00', to: '01:00' };
    expect(raisesAt(iso('2026-10-25T01:30:00Z') - SEC, { visits, night })).toBe(false); // 02:29:59 CET, to + 15 min
    expect(raisesAt(iso('2026-10-25T01:30:01Z'), { visits, night })).toBe(true);
  });
});

// The simulator's staff visits (simulators/devices/home-plan.ts: arrivals 07:35–08:05, 13:35–14:05, 19:35–20:05,
// 21:20–22:00) against a visit plan a municipality would have for them.
describe('door-unplanned against the simulator’s normal day', () => {
  const s = loadScenario(new URL('../../../simulators/scenarios/normal-day.yaml', import.meta.url).pathname);
  const inputs: { at: number; home: string; device: string; body: EventBody }[] = [];
  for (const spec of expandFleet(s).filter((d) => d.kind === 'lock'))
    for (const { action, events } of deviceTrace(spec, deviceContext(s, spec)))
      for (const e of events)
        if (e.type === 'lock') {
          const body: EventBody = { type: 'lock', kind: e.kind, ...(e.method === undefined ? {} : { method: e.method }) };
          inputs.push({ at: action.at, home: spec.home, device: spec.id, body });
        }
  inputs.sort((x, y) => x.at - y.at);
  // 2026-03-10, CET: 07:45–08:15, 13:45–14:15, 19:45–20:15, 21:30–22:00 local.
  const planned = [
    visit('2026-03-10T06:45:00.000Z', '2026-03-10T07:15:00.000Z'),
    visit('2026-03-10T12:45:00.000Z', '2026-03-10T13:15:00.000Z'),
    visit('2026-03-10T18:45:00.000Z', '2026-03-10T19:15:00.000Z'),
    visit('2026-03-10T20:30:00.000Z', '2026-03-10T21:00:00.000Z'),
  ];
  function run(visits: PlannedVisit[]) {
    const h = harness({ start: s.start, plans: s.homes.map((homeId) => plan({ homeId, doses: [], visits })), rules });
    for (const i of inputs) {
      h.clock.advanceTo(i.at);
      h.engine.handleEvents([event(i.device, i.body, i.at, i.home)]);
    }
    h.clock.advanceTo(s.end);
    return h;
  }

  it('every visit inside the plan: nothing, in 20 homes', () => {
    expect(inputs.filter((i) => i.body.type === 'lock' && i.body.kind === 'unlocked').length).toBeGreaterThan(40);
    expect(run(planned).signals).toEqual([]);
  });

  it('the midday visit left out of the plan: each home that had one raises once, around 13:35–14:05', () => {
    const h = run(planned.filter((_, i) => i !== 1));
    expect(h.raised().length).toBeGreaterThan(0);
    expect(new Set(h.raised().map((a) => a.homeId)).size).toBe(h.raised().length);
    for (const a of h.raised()) expect(a.at >= iso('2026-03-10T12:35:00Z') && a.at <= iso('2026-03-10T13:06:00Z')).toBe(true);
  });
});

// The conventions test walks RULES; until this rule is registered, the same checks here.
describe('door-unplanned on junk input', () => {
  it('never throws, keeps JSON state, is deterministic, and only emits valid signals', () => {
    const r = prng(4242);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const bodies: EventBody[] = [
      keypad,
      locked,
      { type: 'lock', kind: 'unlocked', method: 'manual' },
      { type: 'alarm', kind: 'panic', state: 'active' },
    ];
    const T = iso('2026-03-10T10:00:00Z');
    const p = plan({ visits: [...VISITS, visit('junk', 'junk')] });
    let state = doorUnplannedRule.initial();
    for (let i = 0; i < 300; i++) {
      const at = T + Math.floor((r() - 0.5) * 2 * 24 * 60 * MIN);
      const e = event(pick(['d1', 'd2', '']), pick(bodies), at, pick(['h001', 'h001', null]));
      const input: RuleInput =
        r() < 0.85
          ? { type: 'event', event: { ...e, observedAt: pick([e.observedAt, 'not a date']) } }
          : { type: 'timer', key: pick(['', 'x']), at, subject: 'd1' };
      const ctx = { now: T + 24 * 60 * MIN, plan: p, params: doorUnplannedRule.defaults.parse({}) };
      if (input.type !== 'timer') expect(() => doorUnplannedRule.subjects(input, ctx)).not.toThrow();
      const a = doorUnplannedRule.step(state, input, ctx);
      expect(doorUnplannedRule.step(JSON.parse(JSON.stringify(state)) as typeof state, input, ctx)).toEqual(a);
      expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
      for (const s of a.signals) expect(() => AlertSignalSchema.parse(s)).not.toThrow();
      state = a.state;
    }
  });
});
