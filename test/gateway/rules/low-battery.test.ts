import { describe, expect, it } from 'vitest';
import type { EventBody, StatusEvent } from '../../../adapters/canonical.js';
import type { RuleContext, RuleInput } from '../../../gateway/rules/contract.js';
import { lowBatteryRule, type LowBatteryParams, type LowBatteryState } from '../../../gateway/rules/low-battery.js';
import { prng } from '../../support/prng.js';
import { event, harness, MIN, plan } from './support.js';

// Low battery: threshold 15 %, cleared at 25 % (hysteresis 10) or battery_low false without a percentage.
const T = Date.parse('2026-03-10T10:00:00Z');
const home = (over: Parameters<typeof plan>[0] = {}) => [plan({ doses: [], ...over })];
const rules = [lowBatteryRule];
const status = (s: StatusEvent['status']): EventBody => ({ type: 'status', status: s });

describe('low-battery', () => {
  it('16 % is fine, 15 % raises low and technical for the device, once', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('lock-1', status({ battery_pct: 16, rssi_dbm: -70 }));
    expect(h.signals).toEqual([]);
    h.clock.advanceBy(MIN);
    h.send('lock-1', status({ battery_pct: 15 }));
    h.clock.advanceBy(60 * MIN);
    h.send('lock-1', status({ battery_pct: 14, battery_low: true }));
    h.send('lock-1', status({ battery_pct: 9 }));
    expect(h.raised('low-battery')).toMatchObject([
      {
        subject: 'lock-1',
        severity: 'low',
        kind: 'technical',
        title: 'Battery low',
        at: T + MIN,
        evidence: [{ deviceId: 'lock-1', note: 'battery 15 %' }],
      },
    ]);
  });

  it('battery_low alone raises; battery_low false without a percentage clears', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('sens-1', status({ battery_low: true }));
    expect(h.raised('low-battery')).toMatchObject([{ evidence: [{ note: 'battery reported low' }] }]);
    h.clock.advanceBy(MIN);
    h.send('sens-1', status({ battery_low: false }));
    expect(h.cleared('low-battery')).toMatchObject([{ subject: 'sens-1', title: 'Battery replaced' }]);
  });

  it('clears only at threshold + hysteresis: 24 % (even with battery_low false) does not, 25 % does', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('lock-1', status({ battery_pct: 12 }));
    h.clock.advanceBy(MIN);
    h.send('lock-1', status({ battery_pct: 17 }));
    h.send('lock-1', status({ battery_pct: 24, battery_low: false }));
    expect(h.cleared('low-battery')).toEqual([]);
    h.send('lock-1', status({ battery_pct: 25 }));
    h.send('lock-1', status({ battery_pct: 100 }));
    expect(h.cleared('low-battery')).toHaveLength(1);
    expect(h.raised('low-battery')).toHaveLength(1);
  });

  it('battery_low true wins over its own percentage', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('lock-1', status({ battery_pct: 60, battery_low: true }));
    expect(h.raised('low-battery')).toHaveLength(1);
  });

  it('devices are separate subjects; other status and other events raise nothing', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('lock-1', status({ online: false }));
    h.send('lock-1', { type: 'lock', kind: 'locked' });
    h.send('lock-1', status({ battery_pct: 10 }));
    h.send('lock-2', status({ battery_pct: 10 }));
    expect(h.raised('low-battery').map((s) => s.subject)).toEqual(['lock-1', 'lock-2']);
  });

  it('threshold from the home override', () => {
    const h = harness({ start: T, plans: home({ overrides: { 'low-battery': { thresholdPct: 25, hysteresisPct: 5 } } }), rules });
    h.send('lock-1', status({ battery_pct: 24 }));
    h.send('lock-1', status({ battery_pct: 29 }));
    h.send('lock-1', status({ battery_pct: 30 }));
    expect([h.raised().length, h.cleared().length]).toEqual([1, 1]);
  });

  it('a late report older than the replacement does not raise again', () => {
    const h = harness({ start: T, plans: home(), rules });
    h.send('lock-1', status({ battery_pct: 8 }));
    h.clock.advanceBy(60 * MIN);
    h.send('lock-1', status({ battery_pct: 100 }));
    h.engine.handleEvents([event('lock-1', status({ battery_pct: 8 }), T + 30 * MIN)]);
    expect([h.raised().length, h.cleared().length]).toEqual([1, 1]);
  });
});

describe('low-battery never throws on odd input', () => {
  const bodies: EventBody[] = [
    status({ battery_pct: 0 }),
    status({ battery_pct: 100, battery_low: true }),
    status({ battery_low: false }),
    status({ online: true }),
    status({ battery_pct: 15.5 }),
    { type: 'lock', kind: 'opened' },
  ];
  it('walks junk inputs: JSON state, deterministic, no throw', () => {
    const r = prng(17);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)] as X;
    const NOW = Date.parse('2026-03-29T06:00:00Z');
    let state: LowBatteryState = lowBatteryRule.initial();
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
            : { type: 'timer', key: 'x', at, subject: 'd1' };
      const ctx: RuleContext<LowBatteryParams> = { now: NOW, plan: plan(), params: lowBatteryRule.defaults.parse({}) };
      if (input.type !== 'timer') expect(() => lowBatteryRule.subjects(input, ctx)).not.toThrow();
      const x = lowBatteryRule.step(state, input, ctx);
      expect(lowBatteryRule.step(JSON.parse(JSON.stringify(state)) as LowBatteryState, input, ctx)).toEqual(x);
      expect(JSON.parse(JSON.stringify(x.state))).toEqual(x.state);
      state = x.state;
    }
  });
});
