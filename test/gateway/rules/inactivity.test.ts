import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import type { RuleContext, RuleInput } from '../../../gateway/rules/contract.js';
import { inactivityRule, MOTION_GRANULE_MS, type InactivityState } from '../../../gateway/rules/inactivity.js';
import { openDatabase } from '../../../gateway/db/sqlite.js';
import { virtualClock } from '../../../simulators/clock.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// Inactivity on the shared virtual clock: home h001 in Europe/Oslo, night 22:00–07:00, default N = 3 h.
const HOUR = 60 * MIN;
const T = Date.parse('2026-03-10T09:00:00Z'); // 10:00 CET, a Tuesday
const home = (over: Parameters<typeof plan>[0] = {}) => [plan({ doses: [], ...over })];
const rules = [inactivityRule];
const motion: EventBody = { type: 'measurement', readings: { motion: true } };
const still: EventBody = { type: 'measurement', readings: { motion: false } };

describe('inactivity', () => {
  it('raises high after 3 h of daytime with no motion, not a millisecond before', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceBy(90_000);
    h.send('pir-1', still);
    h.clock.advanceTo(T + 3 * HOUR - 1);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toMatchObject([
      {
        subject: 'motion',
        severity: 'high',
        kind: 'care',
        title: 'No movement detected',
        at: T + 3 * HOUR,
        evidence: [{ deviceId: 'pir-1' }],
      },
    ]);
    expect(h.raised()[0]?.evidence[0]?.note).toBe('no motion since 10:00: 3 h of daytime');
  });

  it('motion one second before the limit: no alert; the count starts again from it', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(T + 3 * HOUR - 1000);
    h.send('pir-2', motion); // any sensor of the home
    h.clock.advanceTo(T + 6 * HOUR - 1001);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toMatchObject([{ at: T + 6 * HOUR - 1000, evidence: [{ deviceId: 'pir-2' }] }]);
  });

  it('one alert however long the silence; the next motion clears it once', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(T + 3 * HOUR + 30 * MIN);
    h.send('pir-1', still);
    h.clock.advanceTo(T + 9 * HOUR); // into the night, still open
    expect(h.raised('inactivity')).toHaveLength(1);
    h.send('pir-1', motion);
    h.send('pir-1', motion);
    expect(h.cleared('inactivity')).toMatchObject([{ subject: 'motion', title: 'Movement detected again' }]);
    h.clock.advanceBy(HOUR);
    expect(h.signals).toHaveLength(2);
  });

  it('motion within a minute of the count start stores nothing; the count runs from that first motion', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceBy(30_000);
    h.send('pir-1', motion); // inside the granule: the deadline stays T + 3 h (30 s early at most)
    h.send('pir-1', still);
    h.clock.advanceTo(T + 3 * HOUR - 1);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toMatchObject([{ at: T + 3 * HOUR }]);

    // Past the granule a report moves the count as before.
    const k = harness({ start: T, plans: home(), rules });
    k.send('pir-1', motion);
    k.clock.advanceBy(MOTION_GRANULE_MS);
    k.send('pir-1', motion);
    k.clock.advanceTo(T + 3 * HOUR);
    expect(k.signals).toEqual([]);
    k.clock.advanceTo(T + MOTION_GRANULE_MS + 3 * HOUR);
    expect(k.raised('inactivity')).toMatchObject([{ at: T + MOTION_GRANULE_MS + 3 * HOUR }]);
  });

  it('repeated reports of known sensors return the very state (the engine then writes nothing)', () => {
    const ctx: RuleContext<ReturnType<typeof inactivityRule.defaults.parse>> = {
      now: T + 10_000,
      plan: plan({ doses: [] }),
      params: inactivityRule.defaults.parse({}),
    };
    const input = (device: string, body: EventBody, at: number): RuleInput => ({ type: 'event', event: event(device, body, at) });
    let s: InactivityState = inactivityRule.initial();
    s = inactivityRule.step(s, input('pir-1', motion, T), ctx).state;
    s = inactivityRule.step(s, input('pir-2', still, T + 1000), ctx).state;
    // Two sensors known: neither a motion:false of either nor a motion inside the granule changes anything.
    for (const [device, body] of [
      ['pir-1', still],
      ['pir-2', still],
      ['pir-2', motion],
      ['pir-1', motion],
    ] as const) {
      expect(inactivityRule.step(s, input(device, body, T + 5000), ctx).state).toBe(s);
    }
  });

  it('a home that never reported motion is not watched (a motion:false alone does not start it)', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', still);
    h.send('temp-1', { type: 'measurement', readings: { temperature_c: 21 } });
    h.clock.advanceBy(48 * HOUR);
    expect(h.signals).toEqual([]);
  });

  it('the count pauses at night and goes on in the morning (evening quiet + morning quiet)', () => {
    const evening = Date.parse('2026-03-10T19:30:00Z'); // 20:30 CET: 1.5 h to the night
    const h = harness({ start: evening, plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(Date.parse('2026-03-11T07:30:00Z') - 1); // 08:30 CET next morning
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toMatchObject([{ at: Date.parse('2026-03-11T07:30:00Z') }]);
  });

  it('night-time motion restarts the count; the morning then needs the full N', () => {
    const h = harness({ start: Date.parse('2026-03-10T19:30:00Z'), plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(Date.parse('2026-03-11T02:00:00Z')); // 03:00, a trip to the bathroom
    h.send('pir-1', motion);
    h.clock.advanceTo(Date.parse('2026-03-11T09:00:00Z') - 1); // 07:00 + 3 h = 10:00 CET
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toHaveLength(1);
  });

  it("acrossNight 'restart': the morning starts a fresh count at the end of the night", () => {
    const h = harness({
      start: Date.parse('2026-03-10T19:30:00Z'),
      plans: home({ overrides: { inactivity: { acrossNight: 'restart' } } }),
      rules,
    });
    h.send('pir-1', motion);
    h.clock.advanceTo(Date.parse('2026-03-11T09:00:00Z') - 1); // 10:00 CET
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toHaveLength(1);
  });

  it('N comes from the home override', () => {
    const h = harness({ start: T, plans: home({ overrides: { inactivity: { hours: 1 } } }), rules });
    h.send('pir-1', motion);
    h.clock.advanceBy(HOUR);
    expect(h.raised('inactivity')).toMatchObject([{ at: T + HOUR }]);
  });

  it('a bridge offline pauses the count (no motion is not the same as not knowing); back online resumes it', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(T + HOUR);
    h.engine.handleDeviceStatus({ deviceId: 'hub-1', homeId: 'h001', kind: 'bridge', online: false, at: h.clock.now() });
    h.clock.advanceTo(T + 4 * HOUR);
    expect(h.signals).toEqual([]);
    h.engine.handleDeviceStatus({ deviceId: 'hub-1', homeId: 'h001', kind: 'bridge', online: true, at: h.clock.now() });
    h.clock.advanceTo(T + 6 * HOUR - 1); // 1 h counted before, 2 h after
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toMatchObject([{ at: T + 6 * HOUR }]);
  });

  it('the only motion sensor reported unavailable pauses the count; its next report resumes it', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(T + 2 * HOUR);
    h.send('pir-1', { type: 'status', status: { online: false } }); // the bridge says the child is gone
    h.clock.advanceTo(T + 8 * HOUR);
    expect(h.signals).toEqual([]);
    h.send('pir-1', still); // heard again, but no motion: 2 h counted, 1 h to go
    h.clock.advanceTo(T + 9 * HOUR);
    expect(h.raised('inactivity')).toMatchObject([{ at: T + 9 * HOUR }]);
  });

  it('one of two motion sensors offline does not pause the count', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('pir-1', motion);
    h.send('pir-2', still);
    h.engine.handleDeviceStatus({ deviceId: 'pir-2', homeId: 'h001', kind: 'sensor', online: false, at: h.clock.now() });
    h.clock.advanceBy(3 * HOUR);
    expect(h.raised('inactivity')).toHaveLength(1);
  });
});

describe('inactivity on daylight-saving days (Europe/Oslo)', () => {
  it('2026-03-29: last seen 20:30 CET, 1.5 h before the night; the night ends 07:00 CEST; alert 08:30 CEST', () => {
    const h = harness({ start: Date.parse('2026-03-28T19:30:00Z'), plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(Date.parse('2026-03-29T06:30:00Z') - 1);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toMatchObject([{ at: Date.parse('2026-03-29T06:30:00Z') }]);
  });

  it('2026-03-29 daytime (no-motion.yaml): motion stops 08:50 CEST, alert 3 h later, 11:50 CEST', () => {
    const h = harness({ start: Date.parse('2026-03-29T06:50:00Z'), plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(Date.parse('2026-03-29T13:00:00Z'));
    expect(h.raised('inactivity')).toMatchObject([{ at: Date.parse('2026-03-29T09:50:00Z') }]);
  });

  it("2026-10-25: last seen 20:30 CEST; the 25-hour day's night ends 07:00 CET; alert 08:30 CET", () => {
    const h = harness({ start: Date.parse('2026-10-24T18:30:00Z'), plans: home(), rules });
    h.send('pir-1', motion);
    h.clock.advanceTo(Date.parse('2026-10-25T07:30:00Z') - 1);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('inactivity')).toMatchObject([{ at: Date.parse('2026-10-25T07:30:00Z') }]);
  });
});

describe('inactivity across a restart', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('engine A sees the last motion and dies; engine B on the same file raises on time, once', () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-inactivity-'));
    const path = join(dir, 'tryggheim.sqlite');
    const a = harness({ start: T, plans: home(), rules, db: openDatabase(path) });
    a.send('pir-1', motion);
    a.clock.advanceTo(T + HOUR);
    const b = harness({ start: T, plans: home(), rules, db: openDatabase(path), clock: virtualClock(T + HOUR + 5 * MIN) });
    b.clock.advanceTo(T + 3 * HOUR - 1);
    expect(b.signals).toEqual([]);
    b.clock.advanceTo(T + 8 * HOUR);
    expect(b.raised('inactivity')).toMatchObject([{ at: T + 3 * HOUR }]);
    expect(a.signals).toEqual([]);
    a.db.close();
    b.db.close();
  });
});

describe('inactivity never throws on odd input', () => {
  const bodies: EventBody[] = [
    motion,
    still,
    { type: 'measurement', readings: { motion: true, temperature_c: -60 } },
    { type: 'status', status: { online: false } },
    { type: 'status', status: { online: true, battery_pct: 1 } },
    { type: 'lock', kind: 'opened' },
    { type: 'vitals', readings: { spo2_pct: 0 } },
  ];
  it('walks junk inputs: JSON state, deterministic, no throw', () => {
    const r = prng(7);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const NOW = Date.parse('2026-03-29T06:00:00Z');
    let state: InactivityState = inactivityRule.initial();
    for (let i = 0; i < 300; i++) {
      const at = NOW + Math.floor((r() - 0.5) * 4 * 86_400_000);
      const roll = r();
      const input: RuleInput =
        roll < 0.6
          ? {
              type: 'event',
              kind: pick([undefined, 'bridge', 'sensor'] as const),
              event: { ...event(pick(['d1', 'd2', '']), pick(bodies), at), observedAt: pick([new Date(at).toISOString(), 'not a date']) },
            }
          : roll < 0.8
            ? {
                type: 'device-status',
                deviceId: pick(['d1', 'hub', '']),
                homeId: 'h001',
                kind: pick([undefined, 'bridge'] as const),
                online: r() < 0.5,
                at: pick([at, NaN]),
              }
            : { type: 'timer', key: pick(['quiet', '', 'x']), at: pick([at, state.due ?? at]), subject: 'motion' };
      const ctx: RuleContext<ReturnType<typeof inactivityRule.defaults.parse>> = {
        now: input.type === 'timer' ? input.at : NOW,
        plan: plan({
          night: pick([
            { from: '22:00', to: '07:00' },
            { from: '00:00', to: '23:59' },
            { from: '02:30', to: '02:30' },
          ]),
        }),
        params: inactivityRule.defaults.parse(pick([{}, { hours: 0.5, acrossNight: 'restart' }, { hours: 24 }])),
      };
      if (input.type !== 'timer') expect(() => inactivityRule.subjects(input, ctx)).not.toThrow();
      const x = inactivityRule.step(state, input, ctx);
      expect(inactivityRule.step(JSON.parse(JSON.stringify(state)) as InactivityState, input, ctx)).toEqual(x);
      expect(JSON.parse(JSON.stringify(x.state))).toEqual(x.state);
      for (const t of x.timers) expect(Number.isInteger(t.at)).toBe(true);
      state = x.state;
    }
  });
});
