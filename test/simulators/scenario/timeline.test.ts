import { describe, expect, it } from 'vitest';
import {
  deviceContext,
  expandFleet,
  parseScenario,
  timeline,
  type DeviceModel,
  type Scenario,
} from '../../../simulators/scenario/index.js';
import type { Action } from '../../../simulators/types.js';

const scenario = (seed: number, homes = 20, incidents = '[]'): Scenario =>
  parseScenario(
    `name: t
seed: ${seed}
start: 2026-03-10T06:00
duration: 24h
speed: max
fleet:
  homes: ${homes}
  devices:
    dispenser: { formats: { evcode-dispenser: 50, csv-dispenser: 50 } }
    lock: { formats: json-lock }
    sensors:
      formats: { zigbee2mqtt: 60, tryggheim: 40 }
      units: [[motion, climate], bed, door-contact]
incidents: ${incidents}
`,
    't.yaml',
  );

const take = <T>(it: Iterable<T>, n: number): T[] => {
  const out: T[] = [];
  for (const x of it) {
    if (out.length >= n) break;
    out.push(x);
  }
  return out;
};

const comparable = (a: Action): unknown => (a.op === 'publish' ? { ...a, payload: a.payload.toString('base64') } : a);

describe('timeline (merging stand-in models, to pin the merge itself)', () => {
  // A stand-in model: every device publishes every `period` ms from the start, forever; counts what it is asked for.
  const ticking = (pulled: { n: number }): DeviceModel =>
    function* (spec, ctx) {
      const period = 60_000 + (spec.id.length % 7) * 1_000;
      for (let t = ctx.start; ; t += period) {
        pulled.n++;
        yield { at: t, client: spec.id, op: 'publish', topic: `x/${spec.id}`, payload: Buffer.from(''), qos: 1, retain: false };
      }
    };

  it('is lazy: the first actions of hundreds of endless devices cost one pull per device, not a day of actions', () => {
    const s = scenario(1, 200);
    const fleet = expandFleet(s);
    expect(fleet.length).toBeGreaterThan(700);
    const pulled = { n: 0 };
    const first = take(timeline(s, fleet, ticking(pulled)), 50);
    expect(first).toHaveLength(50);
    // One head per device, plus one pull per action played (take() asks for a 51st before stopping).
    expect(pulled.n).toBeLessThanOrEqual(fleet.length + 51);
  });

  it('orders by time, breaks ties by fleet order, keeps each device in its own order, and ends at the scenario end', () => {
    const s = scenario(1, 3);
    const fleet = expandFleet(s);
    const all = [...timeline(s, fleet, ticking({ n: 0 }))];
    const rank = new Map(fleet.map((d, i) => [d.id, i]));
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1] as Action, all[i] as Action];
      expect(a.at < b.at || (a.at === b.at && (rank.get(a.client) ?? 0) <= (rank.get(b.client) ?? 0))).toBe(true);
    }
    expect(Math.max(...all.map((a) => a.at))).toBeLessThanOrEqual(s.end);
    expect(all.filter((a) => a.at === s.start).map((a) => a.client)).toEqual(fleet.map((d) => d.id));
  });

  it('gives each device its own seeded rand and only its home incidents', () => {
    const s = scenario(5, 3, '[{ type: door-forced, home: h2, at: "09:00" }]');
    const [a, b] = expandFleet(s);
    if (a === undefined || b === undefined) throw new Error('fleet too small');
    expect(deviceContext(s, a).rand()).toBe(deviceContext(s, a).rand());
    expect(deviceContext(s, a).rand()).not.toBe(deviceContext(s, b).rand());
    const h2 = expandFleet(s).find((d) => d.home === 'h002');
    if (h2 === undefined) throw new Error('no h002');
    expect(deviceContext(s, h2).incidents.map((i) => i.type)).toEqual(['door-forced']);
    expect(deviceContext(s, a).incidents).toEqual([]);
  });

  it('refuses a model that goes back in time, naming the device', () => {
    const s = scenario(1, 1);
    const backwards: DeviceModel = (spec, ctx) => [
      { at: ctx.start + 10, client: spec.id, op: 'connect' },
      { at: ctx.start + 5, client: spec.id, op: 'disconnect' },
    ];
    expect(() => [...timeline(s, undefined, backwards)]).toThrow(/sim-h001-disp-1 went back in time/);
  });
});

describe('timeline with the real device models', () => {
  it('is deterministic: same seed → the same first 2,000 actions, byte for byte; another seed → different', () => {
    const first = (seed: number): unknown[] => take(timeline(scenario(seed)), 2_000).map(comparable);
    const a = first(11);
    expect(a).toHaveLength(2_000);
    expect(first(11)).toEqual(a);
    expect(first(12)).not.toEqual(a);
  });

  it('plays a whole day of 20 homes in time order', () => {
    let last = -Infinity;
    let n = 0;
    const s = scenario(3);
    for (const a of timeline(s)) {
      expect(a.at).toBeGreaterThanOrEqual(last);
      expect(a.at).toBeLessThanOrEqual(s.end);
      last = a.at;
      n++;
    }
    expect(n).toBeGreaterThan(1_000);
  });
});
