import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError, type Scenario } from '../../../simulators/scenario/index.js';

const base = (over: { fleet?: string; incidents?: string; head?: string } = {}): string => `name: test
seed: 7
${over.head ?? 'start: 2026-03-10T06:00\nduration: 24h'}
fleet:
${
  over.fleet ??
  `  homes: 10
  devices:
    dispenser:
      formats: { evcode-dispenser: 50, csv-dispenser: 50 }
    lock:
      formats: json-lock
    sensors:
      formats: { zigbee2mqtt: 60, tryggheim: 40 }
      units: [motion, bed, door-contact, climate]`
}
incidents:
${over.incidents ?? '  []'}
`;

function problemsOf(text: string, fileName = 'bad.yaml'): string[] {
  try {
    parseScenario(text, fileName, { now: 0 });
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
  }
  throw new Error('expected a ScenarioError');
}

const iso = (t: number): string => new Date(t).toISOString();

describe('parseScenario: errors name the file, the line and the field', () => {
  it('a wrong type', () => {
    const text = base({ fleet: '  homes: twenty\n  devices: {}' });
    expect(problemsOf(text, 'normal-day.yaml')).toEqual(['normal-day.yaml:6 fleet.homes: expected a number or a list, got "twenty"']);
  });

  it('a missing field, an unknown field and a bad enum value, all at once', () => {
    const text = `name: x
seed: 1
start: 2026-03-10T06:00
speeed: 2
fleet:
  homes: 2
  devices:
    lock:
      formats: json-lock
incidents:
  - type: dose-forgotten
    home: h1
    at: "08:00"
`;
    expect(problemsOf(text)).toEqual([
      'bad.yaml:1 duration: is required',
      'bad.yaml:4 speeed: unknown field (check the spelling)',
      expect.stringMatching(/^bad\.yaml:11 incidents\[0\]\.type: expected "dose-not-taken" \| .* got "dose-forgotten"$/),
    ]);
  });

  it('bad durations and times', () => {
    const text = base({ head: 'start: 2026-03-10T06:00\nduration: 24 hours', incidents: '  - { type: fall, home: h1, at: "8:00" }' });
    expect(problemsOf(text)).toEqual([
      'bad.yaml:4 duration: expected a duration like 3h, 15m, 1h30m or 1d',
      'bad.yaml:16 incidents[0].at: expected a local time HH:MM, e.g. "08:00"',
    ]);
  });

  it('a format that does not suit its device kind, and an unknown time zone', () => {
    const text = base({
      head: 'timeZone: Europe/Olso\nstart: 2026-03-10T06:00\nduration: 1h',
      fleet: '  homes: 2\n  devices:\n    dispenser:\n      formats: { senml: 1, csv-dispenser: 1 }',
    });
    expect(problemsOf(text)).toEqual([
      'bad.yaml:3 timeZone: unknown IANA time zone "Europe/Olso"',
      'bad.yaml:10 fleet.devices.dispenser.formats.senml: a dispenser cannot use senml (allowed: tryggheim, evcode-dispenser, csv-dispenser)',
    ]);
  });

  it('incidents that do not fit the fleet or the time span', () => {
    const text = base({
      incidents: [
        '  - { type: fall, home: h31, at: "09:00" }',
        '  - { type: fall, home: h2, at: "09:00" }',
        '  - { type: door-left-open, home: h2, at: "09:00" }',
        '  - { type: bed-exit-no-return, home: 2, day: 1, at: "02:10", duration: 1h }',
        '  - { type: device-offline, home: h003, at: "10:00", duration: 1h, device: vitals }',
        '  - { type: panic, home: h1, at: "10:00", count: 3 }',
      ].join('\n'),
    });
    expect(problemsOf(text)).toEqual([
      'bad.yaml:16 incidents[0].home: no home "h31" in the fleet',
      'bad.yaml:17 incidents[1].home: home h002 has no fall sensor',
      'bad.yaml:18 incidents[2]: door-left-open needs a duration (e.g. duration: 3h)',
      'bad.yaml:19 incidents[3].day: 2026-03-10 02:10 is before the scenario start (2026-03-10 06:00)',
      'bad.yaml:20 incidents[4].device: home h003 has no device "vitals" (expected a kind it has, or one of its device ids)',
      'bad.yaml:21 incidents[5].count: count is only used by failed-attempts',
      'bad.yaml:21 incidents[5].home: home h001 has no panic sensor',
    ]);
  });

  it('YAML syntax errors carry their line', () => {
    expect(problemsOf('name: x\nseed: [1\nfleet: {}\n')).toEqual([expect.stringMatching(/^bad\.yaml:\d+ .+/)]);
  });

  it('a JSON scenario works the same way (JSON is YAML)', () => {
    const json = JSON.stringify({
      name: 'j',
      seed: 'text seed',
      start: '2026-03-10T06:00:00Z',
      duration: '1h',
      fleet: { homes: 1, devices: { lock: { formats: 'json-lock' } } },
    });
    const s = parseScenario(json, 'j.json');
    expect(s.start).toBe(Date.UTC(2026, 2, 10, 6));
    expect(s.timeZone).toBe('Europe/Oslo');
    expect(s.speed).toBe(1);
  });
});

describe('parseScenario: times in the scenario time zone', () => {
  const load = (head: string, incidents = '  []'): Scenario =>
    parseScenario(base({ head, incidents }), 't.yaml', { now: Date.UTC(2026, 0, 1) });

  it('start: local time, offset, { date, time } and now', () => {
    expect(iso(load('start: 2026-03-10T06:00\nduration: 1h').start)).toBe('2026-03-10T05:00:00.000Z');
    expect(iso(load('start: 2026-07-10 06:00\nduration: 1h').start)).toBe('2026-07-10T04:00:00.000Z');
    expect(iso(load('start: 2026-03-10T06:00:00+00:00\nduration: 1h').start)).toBe('2026-03-10T06:00:00.000Z');
    expect(iso(load('start: { date: 2026-03-10, time: "06:00" }\nduration: 1h').start)).toBe('2026-03-10T05:00:00.000Z');
    expect(iso(load('start: now\nduration: 1h').start)).toBe('2026-01-01T00:00:00.000Z');
    expect(iso(load('timeZone: UTC\nstart: 2026-03-10T06:00\nduration: 1h').start)).toBe('2026-03-10T06:00:00.000Z');
  });

  it('incidents resolve to epoch ms, the first such local time at or after the start unless a day is given', () => {
    const s = load(
      'start: 2026-03-10T22:00\nduration: 2d',
      '  - { type: door-left-open, home: h7, at: "23:40", duration: 3h }\n  - { type: door-opened-at-night, home: 2, at: "02:10" }\n  - { type: failed-attempts, home: h003, day: 2, at: "23:00", count: 4 }',
    );
    expect(s.incidents.map((i) => [i.type, i.home, iso(i.at), i.durationMs, i.count])).toEqual([
      ['door-left-open', 'h007', '2026-03-10T22:40:00.000Z', 3 * 3_600_000, undefined],
      ['door-opened-at-night', 'h002', '2026-03-11T01:10:00.000Z', undefined, undefined],
      ['failed-attempts', 'h003', '2026-03-11T22:00:00.000Z', undefined, 4],
    ]);
  });

  it('spring forward (2026-03-29 in Europe/Oslo): day 2 is 23 hours after day 1, and 02:30 (skipped) becomes 03:30', () => {
    const s = load(
      'start: 2026-03-28T06:00\nduration: 2d',
      '  - { type: dose-not-taken, home: h1, day: 1, at: "08:00" }\n  - { type: dose-not-taken, home: h1, day: 2, at: "08:00" }\n  - { type: door-opened-at-night, home: h2, day: 2, at: "02:30" }',
    );
    const [d1, night, d2] = s.incidents;
    expect(iso(d1?.at ?? 0)).toBe('2026-03-28T07:00:00.000Z');
    expect(iso(d2?.at ?? 0)).toBe('2026-03-29T06:00:00.000Z');
    expect((d2?.at ?? 0) - (d1?.at ?? 0)).toBe(23 * 3_600_000);
    expect(iso(night?.at ?? 0)).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST
  });

  it('fall back (2026-10-25): 02:30 happens twice, and the first one is meant', () => {
    const s = load('start: 2026-10-24T22:00\nduration: 12h', '  - { type: door-opened-at-night, home: h1, at: "02:30" }');
    expect(iso(s.incidents[0]?.at ?? 0)).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST, not CET
  });
});
