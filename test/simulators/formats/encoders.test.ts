import { describe, expect, it } from 'vitest';
import { getAdapter } from '../../../adapters/registry.js';
import type { SimEvent } from '../../../simulators/devices/events.js';
import { carries, encode, ENCODERS, formatsFor, type SimMessage } from '../../../simulators/formats/index.js';
import { FORMATS, type ChildSpec, type DeviceSpec, type Format } from '../../../simulators/types.js';

// Each encoder against the real adapter of its format: exact bytes for the documented shapes and quirks,
// and undefined for what a format cannot say.

const AT = Date.parse('2026-11-23T08:02:11Z');
const DUE = Date.parse('2026-11-23T08:00:00Z');
const RECEIVED = '2026-11-23T08:02:12.000Z';

const device = (format: Format, kind: DeviceSpec['kind'] = 'sensor'): DeviceSpec => ({
  id: 'sim-h007-dev-1',
  home: 'h007',
  kind,
  model: 'sim-model',
  format,
  power: 'battery',
});
const CHILD: ChildSpec = {
  id: 'sim-h007-z-door',
  friendlyName: '0x00158d0002c4d5e6',
  kind: 'sensor',
  model: 'sim-contact',
  roles: ['door-contact'],
};
const HUB = { ...device('zigbee2mqtt', 'bridge'), id: 'sim-h007-hub-1' };

const msg = (events: SimEvent[], extra: Partial<SimMessage> = {}): SimMessage => ({ at: AT, counter: 42, events, ...extra });

function decode(spec: DeviceSpec, m: SimMessage) {
  const e = encode(spec, m);
  if (e === undefined) throw new Error('not encoded');
  const subtopic = spec.kind === 'bridge' ? e.topic.slice(`tryggheim/v1/bridges/${spec.id}/`.length) : 'up';
  return {
    encoded: e,
    text: e.payload.toString('utf8'),
    result: getAdapter(spec.format)?.decode({ payload: e.payload, subtopic, receivedAt: RECEIVED }),
  };
}

const taken: SimEvent = { type: 'dose', kind: 'taken', slot: '08:00', scheduledAt: DUE, position: 3 };

describe('encoders', () => {
  it('every format has an encoder, and the device classes match the adapters', () => {
    expect(Object.keys(ENCODERS).sort()).toEqual([...FORMATS].sort());
    for (const f of FORMATS) {
      const adapterClasses = getAdapter(f)?.deviceClasses ?? [];
      expect([...ENCODERS[f].kinds].sort()).toEqual([...adapterClasses].sort());
    }
    expect(formatsFor('dispenser')).toEqual(['tryggheim', 'evcode-dispenser', 'csv-dispenser']);
  });

  it('tryggheim: one event, ts and seq; a batch numbers its events', () => {
    const one = decode(device('tryggheim', 'dispenser'), msg([taken]));
    expect(one.encoded.topic).toBe('tryggheim/v1/devices/sim-h007-dev-1/up');
    expect(one.text).toBe(
      '{"type":"dose.taken","ts":"2026-11-23T08:02:11.000Z","seq":42,"slot":"08:00","scheduledAt":"2026-11-23T08:00:00.000Z"}',
    );
    const two = decode(
      device('tryggheim'),
      msg([
        { type: 'measurement', readings: { bedOccupied: true } },
        { type: 'alarm', kind: 'bed_exit', state: 'cleared' },
      ]),
    );
    expect(two.encoded.counters).toBe(2);
    expect(two.result).toMatchObject({
      ok: true,
      events: [{ seq: 42 }, { seq: 43, body: { type: 'alarm', kind: 'bed_exit', state: 'cleared' } }],
    });
    expect(encode(device('tryggheim'), msg([{ type: 'availability', online: true }]))).toBeUndefined();
  });

  it('evcode-dispenser: codes, epoch seconds, the carousel pocket, a uint32 counter', () => {
    const r = decode(
      device('evcode-dispenser', 'dispenser'),
      msg([taken, { type: 'status', batteryPct: 78.4, firmware: '2.1.0' }], { counter: 2 ** 32 + 5 }),
    );
    expect(JSON.parse(r.text)).toEqual({
      sn: 'DSP-sim-h007-dev-1',
      ev: 'E21',
      ts: 1795420931,
      slot: 3,
      due: 1795420800,
      bat: 78,
      fw: '2.1.0',
      cnt: 5,
    });
    expect(r.result?.ok).toBe(true);
    const heartbeat = decode(device('evcode-dispenser', 'dispenser'), msg([{ type: 'status', batteryPct: 90 }]));
    expect(JSON.parse(heartbeat.text)).toMatchObject({ ev: 'E90', bat: 90 });
    expect(encode(device('evcode-dispenser', 'dispenser'), msg([taken, taken]))).toBeUndefined();
  });

  it('csv-dispenser: records, battery on the last, the END trailer', () => {
    const r = decode(
      device('csv-dispenser', 'dispenser'),
      msg([{ ...taken, kind: 'dispensed' }, taken, { type: 'status', batteryPct: 77 }]),
    );
    expect(r.text).toBe('D1;1795420931;DISPENSED;08:00;1795420800;\nD1;1795420931;TAKEN;08:00;1795420800;77\nEND;2');
    expect(r.result?.ok).toBe(true);
    expect(decode(device('csv-dispenser', 'dispenser'), msg([{ type: 'status', batteryPct: 60 }])).text).toBe(
      'D1;1795420931;BATTERY;;;60\nEND;1',
    );
    expect(encode(device('csv-dispenser', 'dispenser'), msg([{ type: 'status', firmware: '1.0.0' }]))).toBeUndefined();
  });

  it('json-lock: the lock event with its time, plus the state; WRONG_TAG for a bad RFID tag', () => {
    const state: SimEvent[] = [
      { type: 'lock', kind: 'closed' },
      { type: 'status', batteryPct: 77 },
    ];
    const r = decode(
      device('json-lock', 'lock'),
      msg([{ type: 'lock', kind: 'unlocked', method: 'rfid', credentialRef: 'tag-0042', userSlot: 42 }], { state }),
    );
    expect(r.text).toBe(
      '{"lockEvent":{"type":"UNLOCK","source":"RFID","userRef":"tag-0042","at":"2026-11-23T08:02:11.000Z"},"battery":77,"doorOpen":false}',
    );
    const opened = decode(device('json-lock', 'lock'), msg([{ type: 'lock', kind: 'opened' }], { state }));
    expect(JSON.parse(opened.text)).toMatchObject({ lockEvent: { type: 'OPEN' }, doorOpen: true });
    const wrong = decode(
      device('json-lock', 'lock'),
      msg([{ type: 'lock', kind: 'failed_attempt', method: 'rfid', credentialRef: 'tag-9001' }]),
    );
    expect(JSON.parse(wrong.text)).toMatchObject({ lockEvent: { type: 'WRONG_TAG', source: 'RFID' } });
    expect(wrong.result).toMatchObject({ ok: true, events: [{ body: { kind: 'failed_attempt', method: 'rfid' } }] });
  });

  it('senml: base name and time, SenML units, booleans as vb; no alarms', () => {
    const r = decode(
      device('senml'),
      msg([
        { type: 'measurement', readings: { temperatureC: 21.5, humidityPct: 40, doorOpen: true } },
        { type: 'status', batteryPct: 88 },
      ]),
    );
    expect(JSON.parse(r.text)).toEqual([
      { bn: 'urn:dev:ops:sim-h007-dev-1:', bt: 1795420931, n: 'temperature', u: 'Cel', v: 21.5 },
      { n: 'humidity', u: '%RH', v: 40 },
      { n: 'open', vb: true },
      { n: 'battery', u: '%EL', v: 88 },
    ]);
    expect(r.result).toMatchObject({
      ok: true,
      events: [
        { body: { readings: { temperature_c: 21.5, humidity_pct: 40, contact_open: true } } },
        { body: { status: { battery_pct: 88 } } },
      ],
    });
    expect(carries(device('senml'), { type: 'alarm', kind: 'fall', state: 'active' })).toBe(false);
  });

  it('fhir-observation: LOINC and UCUM, a transaction bundle for a session, no subject', () => {
    const r = decode(
      device('fhir-observation', 'vitals'),
      msg([{ type: 'vitals', readings: { systolicMmHg: 132, diastolicMmHg: 84, heartRateBpm: 68, glucoseMmolL: 6.1 } }]),
    );
    const bundle = JSON.parse(r.text) as {
      resourceType: string;
      entry: { resource: { code: { coding: { code: string }[] }; subject?: unknown } }[];
    };
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.entry.map((e) => e.resource.code.coding[0]?.code)).toEqual(['85354-9', '8867-4', '15074-8']);
    expect(bundle.entry.every((e) => e.resource.subject === undefined)).toBe(true);
    expect(r.result).toEqual({
      ok: true,
      events: [
        {
          body: {
            type: 'vitals',
            readings: { bp_systolic_mmhg: 132, bp_diastolic_mmhg: 84, heart_rate_bpm: 68, blood_glucose_mmol_l: 6.1 },
          },
          observedAt: '2026-11-23T08:02:11.000Z',
        },
      ],
    });
    const single = decode(device('fhir-observation', 'vitals'), msg([{ type: 'vitals', readings: { weightKg: 71.3 } }]));
    expect(JSON.parse(single.text)).toMatchObject({ resourceType: 'Observation', valueQuantity: { value: 71.3, code: 'kg' } });
    expect(encode(device('fhir-observation', 'vitals'), msg([{ type: 'status', batteryPct: 50 }]))).toBeUndefined();
  });

  it('zigbee2mqtt: contact true means closed; whole state republished; friendly-name topic', () => {
    const state: SimEvent[] = [
      { type: 'measurement', readings: { doorOpen: false } },
      { type: 'status', batteryPct: 91, linkQuality: 120 },
    ];
    const r = decode(HUB, msg([{ type: 'measurement', readings: { doorOpen: true } }], { state, child: CHILD }));
    expect(r.encoded.topic).toBe('tryggheim/v1/bridges/sim-h007-hub-1/0x00158d0002c4d5e6');
    expect(r.text).toBe('{"battery":91,"contact":false,"last_seen":"2026-11-23T08:02:11.000Z","linkquality":120}');
    expect(r.result).toMatchObject({
      ok: true,
      events: [{ body: { readings: { contact_open: true } }, child: CHILD.friendlyName }, { body: { type: 'status' } }],
    });
    // A heartbeat republishes the cached contact: still closed.
    const hb = decode(HUB, msg([{ type: 'status', batteryPct: 90, linkQuality: 110 }], { state, child: CHILD }));
    expect(JSON.parse(hb.text)).toMatchObject({ contact: true, battery: 90 });
  });

  it('zigbee2mqtt: lock operations as action + source + user slot; availability retained', () => {
    const lock: ChildSpec = { ...CHILD, kind: 'lock', friendlyName: '0x000d6f0011e4b2c9' };
    const state: SimEvent[] = [
      { type: 'lock', kind: 'locked' },
      { type: 'lock', kind: 'closed' },
    ];
    const r = decode(
      HUB,
      msg([{ type: 'lock', kind: 'unlocked', method: 'keypad', credentialRef: 'staff-017', userSlot: 17 }], { state, child: lock }),
    );
    expect(JSON.parse(r.text)).toMatchObject({
      action: 'unlock',
      action_source: 0,
      action_source_name: 'keypad',
      action_user: 17,
      lock_state: 'unlocked',
      door_state: 'closed',
    });
    expect(r.result).toMatchObject({
      ok: true,
      events: [{ body: { kind: 'unlocked', method: 'keypad', credentialRef: 'user-17' } }, { body: { kind: 'closed' } }],
    });
    const avail = decode(HUB, msg([{ type: 'availability', online: false }], { child: lock }));
    expect([avail.encoded.topic, avail.text, avail.encoded.retain]).toEqual([
      'tryggheim/v1/bridges/sim-h007-hub-1/0x000d6f0011e4b2c9/availability',
      '{"state":"offline"}',
      true,
    ]);
    const bridge = decode(HUB, msg([{ type: 'availability', online: true }]));
    expect(bridge.encoded.topic).toBe('tryggheim/v1/bridges/sim-h007-hub-1/bridge/state');
    expect(bridge.result).toEqual({ ok: true, events: [{ body: { type: 'status', status: { online: true } } }] });
    for (const e of [
      { type: 'measurement', readings: { bedOccupied: true } },
      { type: 'alarm', kind: 'fall', state: 'active' },
      { type: 'lock', kind: 'left_open' },
    ] as const)
      expect(carries(HUB, e, CHILD)).toBe(false);
  });

  it('encoders are pure: the same message gives the same bytes', () => {
    for (const f of FORMATS) {
      const spec = device(f, ENCODERS[f].kinds[0]);
      const m = msg(
        [
          taken,
          { type: 'vitals', readings: { spo2Pct: 97 } },
          { type: 'measurement', readings: { motion: true } },
          { type: 'status', batteryPct: 50 },
        ],
        { child: CHILD },
      );
      const [a, b] = [encode(spec, m), encode(spec, m)];
      expect(a?.payload.equals(b?.payload ?? Buffer.alloc(0)) ?? true).toBe(true);
    }
  });
});
