import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { openDatabase } from '../../../gateway/db/sqlite.js';
import type { RuleContext, RuleInput } from '../../../gateway/rules/contract.js';
import { temperatureRule, type TemperatureParams, type TemperatureState } from '../../../gateway/rules/temperature.js';
import { virtualClock } from '../../../simulators/clock.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// Room temperature on the shared virtual clock: defaults 16 / 28 °C, 30 minutes, hysteresis 0.5, far 12 / 32.
const T = Date.parse('2026-03-10T12:00:00Z'); // 13:00 CET
const home = (over: Parameters<typeof plan>[0] = {}) => [plan({ doses: [], ...over })];
const rules = [temperatureRule];
const temp = (c: number): EventBody => ({ type: 'measurement', readings: { temperature_c: c, humidity_pct: 40 } });

describe('temperature', () => {
  it('below 16 °C for 30 minutes raises medium for the sensor, not a millisecond before', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('clim-1', temp(15.8));
    for (let k = 1; k <= 2; k++) {
      h.clock.advanceBy(10 * MIN);
      h.send('clim-1', temp(15 - k * 0.2));
    }
    h.clock.advanceTo(T + 30 * MIN - 1);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('temperature')).toMatchObject([
      { subject: 'clim-1', severity: 'medium', kind: 'care', title: 'Room too cold', at: T + 30 * MIN, evidence: [{ deviceId: 'clim-1' }] },
    ]);
    expect(h.raised()[0]?.evidence[0]?.note).toBe('below 16 °C since 13:00, lowest 14.6 °C');
  });

  it('back above the limit plus hysteresis one second before N: no alert', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('clim-1', temp(15));
    h.clock.advanceTo(T + 30 * MIN - 1000);
    h.send('clim-1', temp(16.5));
    h.clock.advanceBy(3 * 60 * MIN);
    expect(h.signals).toEqual([]);
  });

  it('inside the hysteresis (16.2 °C) the episode goes on; exactly 16 °C is inside the limits', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('clim-1', temp(16));
    h.clock.advanceBy(60 * MIN);
    expect(h.signals).toEqual([]);
    h.send('clim-1', temp(15.9));
    h.clock.advanceBy(10 * MIN);
    h.send('clim-1', temp(16.2));
    h.clock.advanceBy(20 * MIN);
    expect(h.raised('temperature')).toMatchObject([{ at: T + 90 * MIN }]);
  });

  it('deduplicates while cold; 16.4 °C does not clear, 16.5 °C does, once; a new episode raises again', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('clim-1', temp(15));
    h.clock.advanceBy(30 * MIN);
    for (let k = 0; k < 6; k++) {
      h.clock.advanceBy(10 * MIN);
      h.send('clim-1', temp(15));
    }
    expect(h.raised('temperature')).toHaveLength(1);
    h.send('clim-1', temp(16.4));
    expect(h.cleared('temperature')).toEqual([]);
    h.send('clim-1', temp(16.5));
    h.send('clim-1', temp(17));
    expect(h.cleared('temperature')).toMatchObject([{ subject: 'clim-1', title: 'Room temperature back within limits' }]);
    h.send('clim-1', temp(14));
    h.clock.advanceBy(30 * MIN);
    expect(h.raised('temperature')).toHaveLength(2);
  });

  it('far out (below 12 °C) raises high; a medium alert that gets far out is raised again, high', () => {
    const a = harness({ start: T, plans: home(), rules });
    a.send('clim-1', temp(11.5));
    a.clock.advanceBy(30 * MIN);
    expect(a.raised('temperature')).toMatchObject([{ severity: 'high', title: 'Room very cold' }]);

    const b = harness({ start: T, plans: home(), rules });
    b.send('clim-1', temp(15));
    b.clock.advanceBy(30 * MIN);
    b.send('clim-1', temp(11.9));
    b.send('clim-1', temp(11));
    expect(b.raised('temperature').map((s) => s.severity)).toEqual(['medium', 'high']);
  });

  it('too hot: above 28 °C medium, above 32 °C high; cools below 27.5 °C to clear', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('clim-1', temp(29));
    h.clock.advanceBy(30 * MIN);
    expect(h.raised('temperature')).toMatchObject([{ severity: 'medium', title: 'Room too hot' }]);
    h.send('clim-1', temp(32.5));
    expect(h.raised('temperature').map((s) => [s.severity, s.title])).toEqual([
      ['medium', 'Room too hot'],
      ['high', 'Room very hot'],
    ]);
    h.send('clim-1', temp(27.6));
    expect(h.cleared('temperature')).toEqual([]);
    h.send('clim-1', temp(27.5));
    expect(h.cleared('temperature')).toHaveLength(1);
  });

  it('sensors are separate subjects; ordinary room readings raise nothing', () => {
    const h = harness({ start: T, plans: home(), rules });
    for (let k = 0; k < 144; k++) {
      h.send('clim-1', temp(20 + 1.2 * Math.sin(k / 20)));
      h.send('clim-2', temp(k < 2 ? 15 : 21)); // 20 minutes cold: under N
      h.clock.advanceBy(10 * MIN);
    }
    expect(h.signals).toEqual([]);
  });

  it('limits and N come from the home override', () => {
    const h = harness({ start: T, plans: home({ overrides: { temperature: { low: 18, minutes: 10 } } }), rules });
    h.send('clim-1', temp(17.5));
    h.clock.advanceBy(10 * MIN);
    expect(h.raised('temperature')).toMatchObject([{ at: T + 10 * MIN }]);
  });

  it('a late reading older than the last change is ignored', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('clim-1', temp(15));
    h.clock.advanceBy(5 * MIN);
    const late = event('clim-1', temp(21), T - 10 * MIN);
    h.engine.handleEvents([late]);
    h.clock.advanceBy(25 * MIN);
    expect(h.raised('temperature')).toHaveLength(1);
  });
});

describe('temperature across a restart', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('engine A sees the room go cold and dies; engine B raises at the 30 minutes, once', () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-temperature-'));
    const path = join(dir, 'tryggheim.sqlite');
    const a = harness({ start: T, plans: home(), rules, db: openDatabase(path) });
    a.send('clim-1', temp(15));
    a.clock.advanceTo(T + 10 * MIN);
    const b = harness({ start: T, plans: home(), rules, db: openDatabase(path), clock: virtualClock(T + 12 * MIN) });
    b.clock.advanceTo(T + 30 * MIN - 1);
    expect(b.signals).toEqual([]);
    b.clock.advanceTo(T + 3 * 60 * MIN);
    expect(b.raised('temperature')).toMatchObject([{ subject: 'clim-1', at: T + 30 * MIN }]);
    a.db.close();
    b.db.close();
  });
});

describe('temperature never throws on odd input', () => {
  const bodies: EventBody[] = [
    temp(15),
    temp(-60),
    temp(100),
    temp(16.2),
    temp(21),
    { type: 'measurement', readings: { motion: true } },
    { type: 'status', status: { online: false } },
    { type: 'vitals', readings: { body_temperature_c: 39 } },
  ];
  it('walks junk inputs: JSON state, deterministic, no throw', () => {
    const r = prng(11);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const NOW = Date.parse('2026-03-29T06:00:00Z');
    let state: TemperatureState = temperatureRule.initial();
    for (let i = 0; i < 300; i++) {
      const at = NOW + Math.floor((r() - 0.5) * 4 * 86_400_000);
      const roll = r();
      const input: RuleInput =
        roll < 0.7
          ? {
              type: 'event',
              event: { ...event(pick(['d1', '']), pick(bodies), at), observedAt: pick([new Date(at).toISOString(), 'not a date']) },
            }
          : roll < 0.8
            ? { type: 'device-status', deviceId: 'd1', homeId: 'h001', online: r() < 0.5, at }
            : { type: 'timer', key: pick([`out:${state.since ?? 0}`, '', 'out:junk']), at, subject: 'd1' };
      const ctx: RuleContext<TemperatureParams> = {
        now: input.type === 'timer' ? input.at : NOW,
        plan: plan(),
        params: temperatureRule.defaults.parse({}),
      };
      if (input.type !== 'timer') expect(() => temperatureRule.subjects(input, ctx)).not.toThrow();
      const x = temperatureRule.step(state, input, ctx);
      expect(temperatureRule.step(JSON.parse(JSON.stringify(state)) as TemperatureState, input, ctx)).toEqual(x);
      expect(JSON.parse(JSON.stringify(x.state))).toEqual(x.state);
      state = x.state;
    }
  });
});
