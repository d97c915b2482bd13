import { describe, expect, it } from 'vitest';
import { countDevices, expandFleet, parseScenario, type Scenario } from '../../../simulators/scenario/index.js';

const scenario = (seed: number | string, homes = 20): Scenario =>
  parseScenario(
    `name: fleet
seed: ${JSON.stringify(seed)}
start: 2026-03-10T06:00
duration: 1h
fleet:
  homes: ${homes}
  devices:
    dispenser:
      formats: { evcode-dispenser: 50, csv-dispenser: 50 }
    lock:
      formats: json-lock
    sensors:
      formats: { zigbee2mqtt: 60, tryggheim: 25, senml: 15 }
      units: [[motion, climate], bed, { roles: [smoke], share: 50 }]
    vitals:
      share: 30
      formats: fhir-observation
`,
    'fleet.yaml',
  );

describe('expandFleet', () => {
  it('splits shares and format mixes exactly over the homes', () => {
    const fleet = expandFleet(scenario(1));
    const homesWith = (pred: (d: (typeof fleet)[number]) => boolean): number => new Set(fleet.filter(pred).map((d) => d.home)).size;
    expect(homesWith((d) => d.kind === 'bridge')).toBe(12); // 60 % of 20
    expect(homesWith((d) => d.format === 'evcode-dispenser')).toBe(10);
    expect(homesWith((d) => d.format === 'csv-dispenser')).toBe(10);
    // Bed mats, fall sensors and panic buttons are native everywhere (Zigbee2MQTT cannot express them).
    const zigbeeable = (d: (typeof fleet)[number]): boolean => !(d.roles ?? []).some((r) => ['bed', 'chair', 'fall', 'panic'].includes(r));
    expect(homesWith((d) => d.kind === 'sensor' && d.format === 'tryggheim' && zigbeeable(d))).toBe(5);
    for (const d of fleet.filter((x) => x.kind === 'sensor' && !zigbeeable(x))) expect(d.format).not.toBe('zigbee2mqtt');
    for (const c of fleet.flatMap((d) => d.children ?? []))
      expect((c.roles ?? []).some((r) => ['bed', 'fall', 'panic'].includes(r))).toBe(false);
    expect(homesWith((d) => d.kind === 'sensor' && d.format === 'senml')).toBe(3);
    expect(homesWith((d) => d.kind === 'vitals')).toBe(6);
    const smoke = fleet.flatMap((d) => [d, ...(d.children ?? [])]).filter((d) => d.roles?.includes('smoke'));
    expect(smoke).toHaveLength(10);
  });

  it('gives opaque synthetic ids, and hub children IEEE-style friendly names', () => {
    const fleet = expandFleet(scenario(1));
    for (const d of fleet) expect(d.id).toMatch(/^sim-h0(0[1-9]|1\d|20)-(disp|lock|sens|vit|hub)-\d+$/);
    const hub = fleet.find((d) => d.kind === 'bridge');
    expect(hub?.format).toBe('zigbee2mqtt');
    expect(hub?.power).toBe('mains');
    expect(hub?.children?.map((c) => c.roles)).toEqual([['motion', 'climate'], ...(hub?.children?.length === 2 ? [['smoke']] : [])]);
    const names = fleet.flatMap((d) => d.children ?? []).map((c) => c.friendlyName);
    for (const n of names) expect(n).toMatch(/^0x00158d[0-9a-f]{10}$/);
    expect(new Set(names).size).toBe(names.length);
    expect(countDevices(fleet)).toBe(fleet.length + names.length);
  });

  it('is deterministic from the seed: same seed, same fleet; another seed, another draw', () => {
    expect(expandFleet(scenario(42))).toEqual(expandFleet(scenario(42)));
    expect(expandFleet(scenario('a text seed'))).toEqual(expandFleet(scenario('a text seed')));
    expect(expandFleet(scenario(42))).not.toEqual(expandFleet(scenario(43)));
  });

  it('numbers homes wide enough for the fleet', () => {
    const big = expandFleet(scenario(1, 1200));
    expect(big[0]?.home).toBe('h0001');
    expect(big.at(-1)?.home).toBe('h1200');
  });

  it('takes an explicit home list, with per-home devices', () => {
    const s = parseScenario(
      `name: list
seed: 3
start: 2026-03-10T06:00
duration: 1h
fleet:
  homes:
    - nord-1
    - id: nord-2
      devices:
        vitals: { formats: senml }
  devices:
    lock: { formats: json-lock }
incidents:
  - { type: vitals-out-of-range, home: nord-2, at: "06:30" }
`,
      'list.yaml',
    );
    expect(expandFleet(s).map((d) => [d.id, d.home, d.kind, d.format])).toEqual([
      ['sim-nord-1-lock-1', 'nord-1', 'lock', 'json-lock'],
      ['sim-nord-2-vit-1', 'nord-2', 'vitals', 'senml'],
    ]);
  });
});
