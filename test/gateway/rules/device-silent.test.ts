import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { openDatabase } from '../../../gateway/db/sqlite.js';
import type { DeviceKind, RuleContext, RuleInput } from '../../../gateway/rules/contract.js';
import { deviceSilentRule, type DeviceSilentParams, type DeviceSilentState } from '../../../gateway/rules/device-silent.js';
import { virtualClock } from '../../../simulators/clock.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan, type Harness } from './support.js';

// Device silent / offline on the shared virtual clock. Home h001 in Europe/Oslo: one dose at 08:00 (window 60,
// grace 30: the dose window is 08:00–09:30 local), night 22:00–07:00. Mains 10 min, battery 25 h, debounce
// 2 min, stable 5 min.
const HOUR = 60 * MIN;
const D = Date.parse('2026-03-10T10:00:00Z'); // 11:00 CET: outside the dose window and the night
const rules = [deviceSilentRule];
const status = (h: Harness, deviceId: string, online: boolean, kind?: DeviceKind): void =>
  h.engine.handleDeviceStatus({ deviceId, homeId: 'h001', kind, online, at: h.clock.now() });
const heartbeat: EventBody = { type: 'status', status: { rssi_dbm: -60 } };
const inBed: EventBody = { type: 'measurement', readings: { bed_occupied: true } };
const at = (iso: string): number => Date.parse(iso);

describe('device-silent: heartbeats', () => {
  it('a mains device (dispenser) silent for its 10 minutes + a tenth of slack raises medium, technical, not a millisecond before', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    status(h, 'disp-1', true, 'dispenser');
    h.clock.advanceTo(D + 11 * MIN - 1);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('device-silent')).toMatchObject([
      { subject: 'disp-1', severity: 'medium', kind: 'technical', title: 'Device not heard from', at: D + 11 * MIN },
    ]);
    expect(h.raised()[0]?.evidence[0]?.note).toBe('no message since 11:00 (expected every 10 min)');
    h.clock.advanceBy(5 * HOUR);
    expect(h.raised('device-silent')).toHaveLength(1);
  });

  it('any message one second before the deadline moves it', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    status(h, 'disp-1', true, 'dispenser');
    h.clock.advanceTo(D + 11 * MIN - 1000);
    h.send('disp-1', heartbeat);
    h.clock.advanceTo(D + 22 * MIN - 1001);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('device-silent')).toMatchObject([{ at: D + 22 * MIN - 1000 }]);
  });

  it('messages within the slack (a tenth of the interval) write nothing; the deadline is never early', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    status(h, 'disp-1', true, 'dispenser');
    const stored = () => h.db.prepare("SELECT state FROM rule_state WHERE rule = 'device-silent'").pluck().get();
    const before = stored();
    h.clock.advanceTo(D + 50_000);
    h.send('disp-1', heartbeat); // 50 s after: within the 1-minute slack, no write
    expect(stored()).toBe(before);
    // The device was last heard at +50 s: silent for 10 min from there is +10:50, the alert comes at +11:00.
    h.clock.advanceTo(D + 11 * MIN - 1);
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('device-silent')).toHaveLength(1);
  });

  it('battery and unknown devices get 25 hours; a bridge 10 minutes', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    h.send('sens-1', { type: 'measurement', readings: { temperature_c: 21 } }); // no kind known: battery
    status(h, 'lock-1', true, 'lock');
    status(h, 'hub-1', true, 'bridge');
    h.clock.advanceTo(D + 27.5 * HOUR - 1);
    expect(h.raised('device-silent').map((s) => s.subject)).toEqual(['hub-1']);
    h.clock.advanceBy(1);
    expect(h.raised('device-silent').map((s) => s.subject)).toEqual(['hub-1', 'sens-1', 'lock-1']);
  });

  it('a message after a silent alert clears it once the device has stayed for 5 minutes', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    status(h, 'disp-1', true, 'dispenser');
    h.clock.advanceTo(D + 30 * MIN);
    h.send('disp-1', heartbeat);
    h.clock.advanceBy(5 * MIN - 1);
    expect(h.cleared('device-silent')).toEqual([]);
    h.send('disp-1', heartbeat); // a steady stream does not push the clear away
    h.clock.advanceBy(1);
    expect(h.cleared('device-silent')).toMatchObject([{ subject: 'disp-1', title: 'Device back online', at: D + 35 * MIN }]);
    h.clock.advanceBy(4 * MIN);
    h.send('disp-1', heartbeat);
    h.clock.advanceBy(9 * MIN);
    expect([h.raised().length, h.cleared().length]).toEqual([1, 1]);
  });

  it('intervals from the home override: per power class, per kind', () => {
    const overrides = { 'device-silent': { power: { lock: 'mains' }, minutesByKind: { vitals: 49 * 60 } } };
    const h = harness({ start: D, plans: [plan({ overrides })], rules });
    status(h, 'lock-1', true, 'lock');
    status(h, 'vit-1', true, 'vitals');
    h.clock.advanceTo(D + 53.9 * HOUR - 1);
    expect(h.raised('device-silent').map((s) => [s.subject, s.at])).toEqual([['lock-1', D + 11 * MIN]]);
    h.clock.advanceBy(1);
    expect(h.raised('device-silent').map((s) => [s.subject, s.at])).toEqual([
      ['lock-1', D + 11 * MIN],
      ['vit-1', D + 53.9 * HOUR],
    ]);
  });
});

describe('device-silent: offline (last will) and flapping', () => {
  it('offline raises after the 2-minute debounce; back within it raises nothing', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    status(h, 'hub-1', true, 'bridge');
    h.clock.advanceBy(MIN);
    status(h, 'hub-1', false, 'bridge');
    h.clock.advanceBy(2 * MIN - 1);
    status(h, 'hub-1', true, 'bridge');
    h.clock.advanceBy(9 * MIN + 1);
    expect(h.signals).toEqual([]);
    status(h, 'hub-1', false, 'bridge');
    h.clock.advanceBy(2 * MIN);
    expect(h.raised('device-silent')).toMatchObject([{ subject: 'hub-1', severity: 'medium', title: 'Device offline', at: h.clock.now() }]);
    expect(h.raised()[0]?.evidence[0]?.note).toBe('offline since 11:12');
  });

  it('a flapping device keeps one alert: cleared only after 5 minutes online without a drop', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    // The hub's own heartbeats, as a real one sends them (its 10-minute deadline is not what this is about).
    for (let t = D + 5 * MIN; t < D + 40 * MIN; t += 5 * MIN) h.clock.setTimer(t, () => h.send('hub-1', heartbeat));
    status(h, 'hub-1', true, 'bridge');
    status(h, 'hub-1', false, 'bridge');
    h.clock.advanceTo(D + 5 * MIN); // raised at +2
    status(h, 'hub-1', true, 'bridge');
    h.clock.advanceTo(D + 8 * MIN);
    status(h, 'hub-1', false, 'bridge');
    h.clock.advanceTo(D + 9 * MIN);
    status(h, 'hub-1', true, 'bridge');
    h.clock.advanceTo(D + 14 * MIN - 1);
    expect([h.raised().length, h.cleared().length]).toEqual([1, 0]);
    h.clock.advanceBy(1);
    expect(h.cleared('device-silent')).toMatchObject([{ at: D + 14 * MIN }]);
    // A later blip shorter than the debounce: nothing.
    h.clock.advanceTo(D + 20 * MIN);
    status(h, 'hub-1', false, 'bridge');
    h.clock.advanceBy(MIN);
    status(h, 'hub-1', true, 'bridge');
    h.clock.advanceBy(5 * MIN);
    expect([h.raised().length, h.cleared().length]).toEqual([1, 1]);
  });

  it('a bridge reporting a device unavailable (status online:false) is an offline for that device', () => {
    const h = harness({ start: D, plans: [plan()], rules });
    h.send('zb-1', { type: 'status', status: { online: false } });
    h.clock.advanceBy(2 * MIN);
    expect(h.raised('device-silent')).toMatchObject([{ subject: 'zb-1', title: 'Device offline' }]);
    h.send('zb-1', { type: 'status', status: { online: true } });
    h.clock.advanceBy(5 * MIN);
    expect(h.cleared('device-silent')).toHaveLength(1);
  });

  it('device-offline.yaml: a mains hub drops at 08:00 for 3 h → one alert within minutes, one clear after it is back', () => {
    const start = at('2026-03-10T07:00:00Z'); // 08:00 CET
    const h = harness({ start: start - HOUR, plans: [plan()], rules });
    status(h, 'sim-h009-hub-1', true, 'bridge');
    for (let t = start - HOUR + 5 * MIN; t < start; t += 5 * MIN) {
      h.clock.advanceTo(t);
      h.send('sim-h009-hub-1', { type: 'status', status: { online: true } }, 'h001');
    }
    h.clock.advanceTo(start);
    status(h, 'sim-h009-hub-1', false, 'bridge');
    h.clock.advanceTo(start + 3 * HOUR);
    status(h, 'sim-h009-hub-1', true, 'bridge');
    h.clock.advanceBy(6 * MIN);
    expect(h.raised('device-silent')).toMatchObject([{ subject: 'sim-h009-hub-1', at: start + 2 * MIN }]);
    expect(h.cleared('device-silent')).toMatchObject([{ at: start + 3 * HOUR + 5 * MIN }]);
  });
});

describe('device-silent: critical windows', () => {
  it('a dispenser offline inside its dose window is urgent (high)', () => {
    const h = harness({ start: at('2026-03-10T07:10:00Z'), plans: [plan()], rules }); // 08:10 CET
    status(h, 'disp-1', true, 'dispenser');
    status(h, 'disp-1', false, 'dispenser');
    h.clock.advanceBy(2 * MIN);
    expect(h.raised('device-silent')).toMatchObject([{ severity: 'high', title: 'Dispenser offline during a dose window' }]);
  });

  it('offline before the dose window: medium, raised again high when the window opens; after it: medium', () => {
    const h = harness({ start: at('2026-03-10T05:50:00Z'), plans: [plan()], rules }); // 06:50 CET
    h.send('disp-1', { type: 'dose', kind: 'refill_needed' }); // a dispenser by what it sends, kind unknown
    status(h, 'disp-1', false);
    h.clock.advanceTo(at('2026-03-10T07:00:00Z') - 1);
    expect(h.raised('device-silent').map((s) => s.severity)).toEqual(['medium']);
    h.clock.advanceBy(1);
    expect(h.raised('device-silent').map((s) => [s.severity, s.at])).toEqual([
      ['medium', at('2026-03-10T05:52:00Z')],
      ['high', at('2026-03-10T07:00:00Z')],
    ]);

    const late = harness({ start: at('2026-03-10T08:30:00Z'), plans: [plan()], rules }); // 09:30 CET: window over
    status(late, 'disp-1', true, 'dispenser');
    status(late, 'disp-1', false, 'dispenser');
    late.clock.advanceBy(20 * HOUR);
    expect(late.raised('device-silent').map((s) => s.severity)).toEqual(['medium']);
  });

  it('a bed sensor offline at night is urgent; offline by day it becomes urgent at 22:00', () => {
    const night = harness({ start: at('2026-03-10T22:00:00Z'), plans: [plan()], rules }); // 23:00 CET
    night.send('bed-1', inBed);
    status(night, 'bed-1', false, 'sensor');
    night.clock.advanceBy(2 * MIN);
    expect(night.raised('device-silent')).toMatchObject([{ severity: 'high', title: 'Bed sensor offline at night' }]);

    const day = harness({ start: D, plans: [plan()], rules });
    day.send('bed-1', { type: 'alarm', kind: 'bed_exit', state: 'cleared' });
    status(day, 'bed-1', false, 'sensor');
    day.clock.advanceTo(at('2026-03-10T21:00:00Z')); // 22:00 CET
    expect(day.raised('device-silent').map((s) => [s.severity, s.at])).toEqual([
      ['medium', D + 2 * MIN],
      ['high', at('2026-03-10T21:00:00Z')],
    ]);
    // Other sensors are not critical at night.
    const other = harness({ start: at('2026-03-10T22:00:00Z'), plans: [plan()], rules });
    other.send('pir-1', { type: 'measurement', readings: { motion: true } });
    status(other, 'pir-1', false, 'sensor');
    other.clock.advanceBy(10 * HOUR);
    expect(other.raised('device-silent').map((s) => s.severity)).toEqual(['medium']);
  });
});

describe('device-silent on daylight-saving days (Europe/Oslo)', () => {
  const offlineAt = (iso: string, id: string, first: EventBody | DeviceKind): Harness => {
    const h = harness({ start: at(iso), plans: [plan()], rules });
    if (typeof first === 'string') status(h, id, true, first);
    else h.send(id, first);
    status(h, id, false);
    return h;
  };

  it('2026-03-29: the 08:00 CEST dose window opens at 06:00Z; the night ends 07:00 CEST (05:00Z)', () => {
    const disp = offlineAt('2026-03-29T05:50:00Z', 'disp-1', 'dispenser'); // 07:50 CEST
    disp.clock.advanceTo(at('2026-03-29T08:00:00Z'));
    expect(disp.raised('device-silent').map((s) => [s.severity, new Date(s.at).toISOString()])).toEqual([
      ['medium', '2026-03-29T05:52:00.000Z'],
      ['high', '2026-03-29T06:00:00.000Z'],
    ]);
    const bedNight = offlineAt('2026-03-29T04:50:00Z', 'bed-1', inBed); // 06:50 CEST: night
    bedNight.clock.advanceBy(2 * MIN);
    const bedDay = offlineAt('2026-03-29T05:05:00Z', 'bed-1', inBed); // 07:05 CEST: day
    bedDay.clock.advanceBy(2 * MIN);
    expect([...bedNight.raised(), ...bedDay.raised()].map((s) => s.severity)).toEqual(['high', 'medium']);
  });

  it('2026-10-25: the 08:00 CET dose window opens at 07:00Z; the night ends 07:00 CET (06:00Z)', () => {
    const disp = offlineAt('2026-10-25T06:50:00Z', 'disp-1', 'dispenser'); // 07:50 CET
    disp.clock.advanceTo(at('2026-10-25T09:00:00Z'));
    expect(disp.raised('device-silent').map((s) => [s.severity, new Date(s.at).toISOString()])).toEqual([
      ['medium', '2026-10-25T06:52:00.000Z'],
      ['high', '2026-10-25T07:00:00.000Z'],
    ]);
    const doubled = offlineAt('2026-10-25T01:30:00Z', 'bed-1', inBed); // 02:30 CET, the second 02:30
    doubled.clock.advanceBy(2 * MIN);
    const bedNight = offlineAt('2026-10-25T05:50:00Z', 'bed-1', inBed); // 06:50 CET: night
    bedNight.clock.advanceBy(2 * MIN);
    const bedDay = offlineAt('2026-10-25T06:05:00Z', 'bed-1', inBed); // 07:05 CET: day
    bedDay.clock.advanceBy(2 * MIN);
    expect([...doubled.raised(), ...bedNight.raised(), ...bedDay.raised()].map((s) => s.severity)).toEqual(['high', 'high', 'medium']);
  });
});

describe('device-silent across a restart', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the heartbeat deadline and the offline debounce survive: engine B raises each on time, once', () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-device-silent-'));
    const path = join(dir, 'tryggheim.sqlite');
    const a = harness({ start: D, plans: [plan()], rules, db: openDatabase(path) });
    status(a, 'disp-1', true, 'dispenser');
    status(a, 'hub-1', true, 'bridge');
    a.clock.advanceTo(D + MIN);
    status(a, 'hub-1', false, 'bridge');
    a.clock.advanceTo(D + 2 * MIN); // dies here
    const b = harness({ start: D, plans: [plan()], rules, db: openDatabase(path), clock: virtualClock(D + 2 * MIN + 30_000) });
    b.clock.advanceTo(D + 3 * MIN - 1);
    expect(b.signals).toEqual([]);
    b.clock.advanceTo(D + 2 * HOUR);
    expect(b.raised('device-silent').map((s) => [s.subject, s.at])).toEqual([
      ['hub-1', D + 3 * MIN],
      ['disp-1', D + 11 * MIN],
    ]);
    expect(a.signals).toEqual([]);
    a.db.close();
    b.db.close();
  });
});

describe('device-silent never throws on odd input', () => {
  const bodies: EventBody[] = [
    heartbeat,
    inBed,
    { type: 'dose', kind: 'taken' },
    { type: 'status', status: { online: false } },
    { type: 'status', status: { online: true, battery_pct: 1 } },
    { type: 'alarm', kind: 'bed_exit', state: 'active' },
  ];
  it('walks junk inputs: JSON state, deterministic, no throw', () => {
    const r = prng(19);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const NOW = Date.parse('2026-03-29T06:00:00Z');
    let state: DeviceSilentState = deviceSilentRule.initial();
    for (let i = 0; i < 400; i++) {
      const t = NOW + Math.floor((r() - 0.5) * 4 * 86_400_000);
      const roll = r();
      const fields = [state.due, state.offlineDue, state.stableAt, state.urgentAt].filter((x): x is number => x !== null);
      const input: RuleInput =
        roll < 0.5
          ? {
              type: 'event',
              kind: pick([undefined, 'dispenser', 'sensor', 'junk' as DeviceKind] as const),
              event: { ...event(pick(['d1', '']), pick(bodies), t), observedAt: pick([new Date(t).toISOString(), 'not a date']) },
            }
          : roll < 0.75
            ? {
                type: 'device-status',
                deviceId: pick(['d1', '']),
                homeId: 'h001',
                kind: pick([undefined, 'dispenser', 'bridge'] as const),
                online: r() < 0.5,
                at: pick([t, NaN]),
              }
            : { type: 'timer', key: pick(['silent', 'offline', 'stable', 'urgent', '', 'x']), at: pick([t, ...fields]), subject: 'd1' };
      const ctx: RuleContext<DeviceSilentParams> = {
        now: input.type === 'timer' ? input.at : NOW,
        plan: plan({
          doses: pick([[], plan().doses]),
          night: pick([
            { from: '22:00', to: '07:00' },
            { from: '02:30', to: '02:30' },
          ]),
        }),
        params: deviceSilentRule.defaults.parse(pick([{}, { offlineDebounceSeconds: 0, stableMinutes: 0 }])),
      };
      if (input.type !== 'timer') expect(() => deviceSilentRule.subjects(input, ctx)).not.toThrow();
      const x = deviceSilentRule.step(state, input, ctx);
      expect(deviceSilentRule.step(JSON.parse(JSON.stringify(state)) as DeviceSilentState, input, ctx)).toEqual(x);
      expect(JSON.parse(JSON.stringify(x.state))).toEqual(x.state);
      for (const tm of x.timers) expect(Number.isInteger(tm.at)).toBe(true);
      state = x.state;
    }
  });
});
