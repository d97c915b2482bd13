import { describe, expect, it } from 'vitest';
import type { DeviceSpec, IncidentType } from '../../../simulators/types.js';
import { bodies, local, run } from './harness.js';
import { DATE, FLEET, incident } from './fleet.js';

// Each incident, decoded by the real adapters, yields the canonical events the alert rules will look for.

const spec = (kind: DeviceSpec['kind'], format: DeviceSpec['format']): DeviceSpec => {
  const s = FLEET.find((d) => d.kind === kind && d.format === format);
  if (s === undefined) throw new Error(`no ${kind} ${format} in the test fleet`);
  return s;
};
const decodedWith = (s: DeviceSpec, type: IncidentType) => bodies(run(s, DATE, [incident(type, s)]).decoded);
const iso = (hhmm: string) => new Date(local(DATE, hhmm)).toISOString();
const HUB = spec('bridge', 'zigbee2mqtt');
const Z_LOCK = '0x000d6f0011e4b2c9';
const Z_DOOR = '0x00158d0002c4d5e6';

describe('dispenser incidents', () => {
  it.each(['tryggheim', 'evcode-dispenser', 'csv-dispenser'] as const)(
    '%s: dose-not-taken → missed for that dose, never taken',
    (format) => {
      const events = decodedWith(spec('dispenser', format), 'dose-not-taken').map((e) => e.body);
      const forDose = events.filter((b) => b.type === 'dose' && b.scheduledAt === iso('08:00'));
      expect(forDose.map((b) => b.type === 'dose' && b.kind)).toEqual(['due', 'dispensed', 'missed']);
      // The other doses of the day are taken.
      const taken = events.filter((b) => b.type === 'dose' && b.kind === 'taken');
      expect(taken).toHaveLength(2);
    },
  );

  it.each(['tryggheim', 'evcode-dispenser', 'csv-dispenser'] as const)('%s: not-dispensed, jam and empty', (format) => {
    const s = spec('dispenser', format);
    const kinds = (type: IncidentType, hhmm: string) =>
      decodedWith(s, type)
        .map((e) => e.body)
        .filter((b) => b.type === 'dose' && (b.scheduledAt === iso(hhmm) || b.scheduledAt === undefined))
        .map((b) => (b.type === 'dose' ? b.kind : ''));
    expect(kinds('dose-not-dispensed', '14:00')).toEqual(expect.arrayContaining(['due', 'not_dispensed']));
    expect(kinds('dose-not-dispensed', '14:00')).not.toContain('dispensed');
    expect(kinds('dispenser-jam', '14:00')).toEqual(expect.arrayContaining(['jam', 'due', 'not_dispensed']));
    expect(kinds('dispenser-empty', '20:00')).toEqual(expect.arrayContaining(['empty', 'due', 'not_dispensed']));
    expect(kinds('dispenser-empty', '20:00')).not.toContain('taken');
  });

  it('carousel pockets and slot labels travel as their formats say them', () => {
    const evcode = decodedWith(spec('dispenser', 'evcode-dispenser'), 'dose-not-taken').find(
      (e) => e.body.type === 'dose' && e.body.kind === 'missed',
    );
    expect(evcode?.body).toMatchObject({ slot: expect.stringMatching(/^\d{1,2}$/) as unknown });
    expect(evcode?.observedAt).toBe(iso('09:00'));
    const csv = decodedWith(spec('dispenser', 'csv-dispenser'), 'dose-not-taken').find(
      (e) => e.body.type === 'dose' && e.body.kind === 'missed',
    );
    expect(csv?.body).toEqual({ type: 'dose', kind: 'missed', slot: '08:00', scheduledAt: iso('08:00') });
  });
});

describe('door incidents', () => {
  it.each(['tryggheim', 'json-lock'] as const)('%s: left open, opened at night, forced, failed attempts', (format) => {
    const s = spec('lock', format);
    const kinds = (type: IncidentType) => decodedWith(s, type).flatMap((e) => (e.body.type === 'lock' ? [e.body.kind] : []));
    expect(kinds('door-left-open')).toEqual(expect.arrayContaining(['unlocked', 'opened', 'left_open', 'closed', 'locked']));
    const left = decodedWith(s, 'door-left-open').find((e) => e.body.type === 'lock' && e.body.kind === 'left_open');
    expect(left?.observedAt).toBe(iso('23:12'));
    expect(kinds('door-opened-at-night')).toEqual(expect.arrayContaining(['opened', 'closed']));
    expect(kinds('door-forced')).toContain('forced');
    expect(kinds('failed-attempts').filter((k) => k === 'failed_attempt')).toHaveLength(4);
  });

  it('zigbee2mqtt: the lock reports door_state and the contact sensor contact: false (= open)', () => {
    const events = decodedWith(HUB, 'door-left-open');
    // The incident starts with the unlock at 23:10; the door opens 10 s later.
    const openedAt = new Date(Date.parse(iso('23:10')) + 10_000).toISOString();
    const door = events.filter((e) => e.child === Z_DOOR && e.body.type === 'measurement' && e.observedAt === openedAt);
    expect(door.map((e) => e.body)).toEqual([{ type: 'measurement', readings: { contact_open: true } }]);
    const lock = events.filter((e) => e.child === Z_LOCK && e.observedAt === openedAt).map((e) => e.body);
    expect(lock).toContainEqual({ type: 'lock', kind: 'opened' });
    const forced = decodedWith(HUB, 'door-forced').filter((e) => e.child === Z_LOCK && e.body.type === 'lock' && e.body.kind === 'forced');
    expect(forced.length).toBeGreaterThan(0);
    const failed = decodedWith(HUB, 'failed-attempts').filter((e) => e.body.type === 'lock' && e.body.kind === 'failed_attempt');
    expect(failed).toHaveLength(4);
  });

  it('staff visits: unlocked with an opaque credential, then locked again', () => {
    const events = bodies(run(spec('lock', 'tryggheim'), DATE).decoded).map((e) => e.body);
    const unlocks = events.filter((b) => b.type === 'lock' && b.kind === 'unlocked');
    expect(unlocks.length).toBeGreaterThanOrEqual(2);
    for (const u of unlocks) expect(u).toMatchObject({ credentialRef: expect.stringMatching(/^(tag-\d{4}|staff-\d{3})$/) as unknown });
    const last = events.filter((b) => b.type === 'lock' && (b.kind === 'locked' || b.kind === 'unlocked')).at(-1);
    expect(last).toMatchObject({ kind: 'locked' });
  });
});

describe('home sensor incidents', () => {
  const sensor = spec('sensor', 'tryggheim');
  const senml = spec('sensor', 'senml');

  it('bed exit without return: bed empty at 02:10, bed_exit alarm, no return for the duration', () => {
    const events = decodedWith(sensor, 'bed-exit-no-return');
    const bed = events.filter((e) => e.body.type === 'measurement' && e.body.readings.bed_occupied !== undefined);
    const exit = bed.find((e) => e.observedAt === iso('02:10'));
    expect(exit?.body).toEqual({ type: 'measurement', readings: { bed_occupied: false } });
    const during = bed.filter((e) => e.observedAt !== undefined && e.observedAt > iso('02:10') && e.observedAt < iso('05:10'));
    expect(during).toEqual([]);
    expect(events.map((e) => e.body)).toContainEqual({ type: 'alarm', kind: 'bed_exit', state: 'active' });
    const motionDuring = events.filter(
      (e) =>
        e.body.type === 'measurement' &&
        e.body.readings.motion === true &&
        (e.observedAt ?? '') > iso('02:13') &&
        (e.observedAt ?? '') < iso('05:10'),
    );
    expect(motionDuring).toEqual([]);
  });

  it.each([
    ['fall', 'fall'],
    ['panic', 'panic'],
    ['smoke', 'smoke'],
    ['water-leak', 'water_leak'],
  ] as const)('%s raises the alarm (tryggheim)', (type, kind) => {
    expect(decodedWith(sensor, type).map((e) => e.body)).toContainEqual({ type: 'alarm', kind, state: 'active' });
  });

  it('smoke and water leak on Zigbee2MQTT detectors: alarm active, then cleared', () => {
    for (const [type, kind] of [
      ['smoke', 'smoke'],
      ['water-leak', 'water_leak'],
    ] as const) {
      const states = decodedWith(HUB, type).flatMap((e) => (e.body.type === 'alarm' && e.body.kind === kind ? [e.body.state] : []));
      expect(states).toContain('active');
      expect(states.at(-1)).toBe('cleared');
    }
  });

  it('SenML has no alarms: an alarm incident publishes nothing for it', () => {
    const normal = run(senml, DATE).decoded.length;
    for (const type of ['panic', 'smoke', 'water-leak'] as const)
      expect(run(senml, DATE, [incident(type, senml)]).decoded.length).toBe(normal);
  });

  it('no motion for the duration; temperature below 16 °C during temperature-low', () => {
    const quiet = decodedWith(sensor, 'no-motion').filter(
      (e) =>
        e.body.type === 'measurement' &&
        e.body.readings.motion === true &&
        (e.observedAt ?? '') >= iso('09:00') &&
        (e.observedAt ?? '') < iso('15:00'),
    );
    expect(quiet).toEqual([]);
    for (const s of [sensor, senml]) {
      const temps = decodedWith(s, 'temperature-low').flatMap((e) =>
        e.body.type === 'measurement' && e.body.readings.temperature_c !== undefined
          ? [[e.observedAt ?? '', e.body.readings.temperature_c] as const]
          : [],
      );
      expect(temps.some(([t, c]) => t > iso('04:00') && t < iso('07:00') && c < 16)).toBe(true);
      expect(temps.filter(([t]) => t < iso('04:00')).every(([, c]) => c >= 18)).toBe(true);
    }
  });
});

describe('vitals and device incidents', () => {
  it.each(['tryggheim', 'senml', 'fhir-observation'] as const)('%s: vitals-out-of-range decodes out of range', (format) => {
    const readings = decodedWith(spec('vitals', format), 'vitals-out-of-range').flatMap((e) =>
      e.body.type === 'vitals' ? [e.body.readings] : [],
    );
    expect(readings).toContainEqual({ spo2_pct: 85 });
    expect(readings).toContainEqual({ bp_systolic_mmhg: 186, bp_diastolic_mmhg: 112, heart_rate_bpm: 128 });
  });

  it.each(FLEET.map((s) => [`${s.kind} ${s.format}`, s] as const))('%s: device-offline drops, stays silent, reconnects', (_n, s) => {
    const { trace } = run(s, DATE, [incident('device-offline', s)]);
    const [from, to] = [local(DATE, '10:00'), local(DATE, '13:00')];
    expect(trace.filter((t) => t.action.op === 'drop').map((t) => t.action.at)).toEqual([from]);
    expect(trace.filter((t) => t.action.op === 'connect').map((t) => t.action.at)).toContain(to);
    expect(trace.filter((t) => t.action.at > from && t.action.at < to)).toEqual([]);
  });

  it('a dispenser stores what happened while offline and sends it on reconnect, with its own time', () => {
    const s = spec('dispenser', 'tryggheim');
    const offline = { ...incident('device-offline', s), at: local(DATE, '07:30'), durationMs: 60 * 60_000 };
    const { decoded } = run(s, DATE, [offline]);
    const due = bodies(decoded).find((e) => e.body.type === 'dose' && e.body.kind === 'due' && e.body.scheduledAt === iso('08:00'));
    expect(due?.observedAt).toBe(iso('08:00'));
    expect(due?.at).toBe(local(DATE, '08:30'));
  });

  it.each(FLEET.filter((s) => s.kind !== 'bridge' && s.format !== 'fhir-observation').map((s) => [`${s.kind} ${s.format}`, s] as const))(
    '%s: battery-low reports a low battery',
    (_n, s) => {
      const statuses = decodedWith(s, 'battery-low').flatMap((e) => (e.body.type === 'status' ? [{ at: e.at, ...e.body.status }] : []));
      const after = statuses.filter((x) => x.at >= local(DATE, '12:00') && x.battery_pct !== undefined);
      expect(after.length).toBeGreaterThan(0);
      for (const x of after) expect(x.battery_pct).toBeLessThanOrEqual(10);
      if (s.format === 'tryggheim') expect(after[0]?.battery_low).toBe(true);
    },
  );

  it('a hub child offline: availability offline, then online', () => {
    const i = { ...incident('device-offline', HUB), device: 'sim-h001-z-door' };
    const events = bodies(run(HUB, DATE, [i]).decoded).filter(
      (e) => e.child === Z_DOOR && e.body.type === 'status' && e.body.status.online !== undefined,
    );
    expect(events.map((e) => [e.at, e.body.type === 'status' && e.body.status.online])).toEqual([
      [local(DATE, '00:00'), true],
      [local(DATE, '10:00'), false],
      [local(DATE, '13:00'), true],
    ]);
  });
});
