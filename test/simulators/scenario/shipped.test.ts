import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { supports } from '../../../simulators/devices/index.js';
import { countDevices, expandFleet, loadScenario, timeline } from '../../../simulators/scenario/index.js';
import { loadTranscript, transcriptPathFor } from '../../../simulators/transcript.js';
import { INCIDENT_TYPES } from '../../../simulators/types.js';

const dir = fileURLToPath(new URL('../../../simulators/scenarios/', import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.alerts.yaml'))
  .sort();

describe('shipped scenarios', () => {
  it('ship a normal day, the busy district, one scenario per incident type and the load-test fleet', () => {
    expect(files).toEqual([...['busy-district', 'load-1000', 'normal-day', ...INCIDENT_TYPES].sort()].map((n) => `${n}.yaml`));
  });

  it('load-1000: 1,000 native sensors, the clients `tryggheim sim load` publishes native measurements as', () => {
    const fleet = expandFleet(loadScenario(`${dir}load-1000.yaml`));
    expect(fleet).toHaveLength(1000);
    expect(new Set(fleet.map((d) => `${d.kind} ${d.format}`))).toEqual(new Set(['sensor tryggheim']));
  });

  it.each(files)('%s loads, expands, and every device speaks a format its model knows', (file) => {
    const s = loadScenario(dir + file);
    expect(s.name).toBe(file.replace(/\.yaml$/, ''));
    const fleet = expandFleet(s);
    for (const d of fleet) expect(supports(d), `${d.id}: ${d.kind} in ${d.format}`).toBe(true);
    const type = INCIDENT_TYPES.find((t) => `${t}.yaml` === file);
    if (type !== undefined) {
      // "each incident type alone": exactly one incident, of that type, in a small scenario
      expect(s.incidents.map((i) => i.type)).toEqual([type]);
      expect(s.homes.length).toBeLessThanOrEqual(10);
      expect(s.end - s.start).toBeLessThanOrEqual(12 * 3_600_000);
    }
  });

  it.each(files.filter((f) => f !== 'busy-district.yaml' && f !== 'load-1000.yaml'))(
    '%s has a transcript that anchors on its incidents',
    (file) => {
      const path = transcriptPathFor(dir + file);
      expect(existsSync(path)).toBe(true);
      const s = loadScenario(dir + file);
      const expected = loadTranscript(path, s);
      if (file === 'normal-day.yaml') expect(expected).toEqual([]);
      else expect(expected.length).toBeGreaterThan(0);
      for (const e of expected) expect(e.deadline).toBeLessThanOrEqual(s.end);
    },
  );

  it('normal-day: 20 homes, 24 hours, no incidents', () => {
    const s = loadScenario(`${dir}normal-day.yaml`);
    expect([s.homes.length, s.end - s.start, s.incidents.length]).toEqual([20, 24 * 3_600_000, 0]);
  });

  it('busy-district: 200 homes, ~1,500 devices (± 10 %), something every few simulated minutes', () => {
    const s = loadScenario(`${dir}busy-district.yaml`);
    expect(s.homes).toHaveLength(200);
    const n = countDevices(expandFleet(s));
    expect(n).toBeGreaterThanOrEqual(1_350);
    expect(n).toBeLessThanOrEqual(1_650);
    const gaps = s.incidents.slice(1).map((inc, i) => inc.at - (s.incidents[i]?.at ?? 0));
    const speed = s.speed === 'max' ? Infinity : s.speed;
    // the mean gap between incidents, in wall seconds at the file's demo speed
    expect((s.end - s.start) / s.incidents.length / speed / 1000).toBeLessThan(5);
    expect(Math.max(...gaps) / speed / 1000).toBeLessThan(60);
    expect(new Set(s.incidents.map((i) => i.type)).size).toBe(INCIDENT_TYPES.length);
  });

  it.each(files.filter((f) => INCIDENT_TYPES.some((t) => `${t}.yaml` === f)))('%s plays through the device models', (file) => {
    const s = loadScenario(dir + file);
    let n = 0;
    for (const a of timeline(s)) {
      expect(a.at).toBeGreaterThanOrEqual(s.start);
      n++;
    }
    expect(n).toBeGreaterThan(0);
  });
});
