import { describe, expect, it } from 'vitest';
import { CanonicalEventSchema, type CanonicalEvent, type EventBody } from '../../../adapters/canonical.js';
import {
  COMMON_FIELD_TYPES,
  FIELD_TYPES,
  MEASUREMENTS,
  escapeKey,
  escapeMeasurement,
  quoteString,
  timestampNs,
  toLine,
} from '../../../gateway/storage/line-protocol.js';

// Golden lines, written by hand. observedAt 2025-03-14T07:30:00.123Z = 1741937400123 ms; the eventId starts
// 0a1b2c3d = 169552957, mod 10^6 = 552957; so the timestamp is 1741937400123 552957.
// receivedAt 2025-03-14T07:30:01.456Z = 1741937401456 ms.

const EVENT_ID = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const TS = '1741937400123552957';
const COMMON = `event_id="${EVENT_ID}",received_at_ms=1741937401456i`;

function event(body: EventBody, over: Partial<CanonicalEvent> = {}): CanonicalEvent {
  // Parsed, so a golden case can never drift from the canonical schema.
  return CanonicalEventSchema.parse({
    eventId: EVENT_ID,
    deviceId: 'dev-001',
    homeId: 'home-17',
    adapter: { id: 'native', version: 2 },
    observedAt: '2025-03-14T07:30:00.123Z',
    receivedAt: '2025-03-14T07:30:01.456Z',
    body,
    ...over,
  });
}

describe('toLine golden lines', () => {
  it('dose: kind tag, slot and scheduled_at strings, seq integer', () => {
    const e = event({ type: 'dose', kind: 'missed', slot: '08:00', scheduledAt: '2025-03-14T07:00:00.000Z' }, { seq: 42 });
    expect(toLine(e)).toBe(
      `dose,adapter=native,device_id=dev-001,home_id=home-17,kind=missed slot="08:00",scheduled_at="2025-03-14T07:00:00.000Z",event_id="${EVENT_ID}",seq=42i,received_at_ms=1741937401456i,adapter_version=2i ${TS}`,
    );
  });

  it('dose without optional fields still has the common fields', () => {
    expect(toLine(event({ type: 'dose', kind: 'due' }))).toBe(
      `dose,adapter=native,device_id=dev-001,home_id=home-17,kind=due ${COMMON},adapter_version=2i ${TS}`,
    );
  });

  it('lock: home_id omitted when null; quotes and backslashes escaped in strings', () => {
    const e = event({ type: 'lock', kind: 'unlocked', method: 'keypad', credentialRef: 'tag "A\\1"' }, { homeId: null });
    expect(toLine(e)).toBe(
      `lock,adapter=native,device_id=dev-001,kind=unlocked method="keypad",credential_ref="tag \\"A\\\\1\\"",${COMMON},adapter_version=2i ${TS}`,
    );
  });

  it('sensor: whole numbers stay floats (no i), booleans as true/false, schema order', () => {
    const e = event({ type: 'measurement', readings: { contact_open: true, motion: false, humidity_pct: 45.5, temperature_c: 21 } });
    expect(toLine(e)).toBe(
      `sensor,adapter=native,device_id=dev-001,home_id=home-17 temperature_c=21,humidity_pct=45.5,motion=false,contact_open=true,${COMMON},adapter_version=2i ${TS}`,
    );
  });

  it('sensor: negative and tiny floats', () => {
    const e = event({
      type: 'measurement',
      readings: { temperature_c: -0.5, illuminance_lux: 0.0000001, bed_occupied: true, chair_occupied: false },
    });
    expect(toLine(e)).toBe(
      `sensor,adapter=native,device_id=dev-001,home_id=home-17 temperature_c=-0.5,illuminance_lux=1e-7,bed_occupied=true,chair_occupied=false,${COMMON},adapter_version=2i ${TS}`,
    );
  });

  it('alarm: kind tag, active bool from state', () => {
    expect(toLine(event({ type: 'alarm', kind: 'fall', state: 'active' }))).toBe(
      `alarm,adapter=native,device_id=dev-001,home_id=home-17,kind=fall active=true,${COMMON},adapter_version=2i ${TS}`,
    );
    expect(toLine(event({ type: 'alarm', kind: 'bed_exit', state: 'cleared' }))).toBe(
      `alarm,adapter=native,device_id=dev-001,home_id=home-17,kind=bed_exit active=false,${COMMON},adapter_version=2i ${TS}`,
    );
  });

  it('vitals: canonical reading names, floats', () => {
    const e = event({ type: 'vitals', readings: { spo2_pct: 97, heart_rate_bpm: 72, bp_systolic_mmhg: 128.5, blood_glucose_mmol_l: 5.4 } });
    expect(toLine(e)).toBe(
      `vitals,adapter=native,device_id=dev-001,home_id=home-17 heart_rate_bpm=72,spo2_pct=97,bp_systolic_mmhg=128.5,blood_glucose_mmol_l=5.4,${COMMON},adapter_version=2i ${TS}`,
    );
  });

  it('device_status: link_quality is the one integer; strings quoted (spaces and commas need no escape inside)', () => {
    const e = event(
      {
        type: 'status',
        status: {
          online: true,
          battery_pct: 100,
          battery_low: false,
          rssi_dbm: -67,
          link_quality: 120,
          firmware: '1.2.3 beta',
          fault: 'E,1=x',
        },
      },
      { seq: 0 },
    );
    expect(toLine(e)).toBe(
      `device_status,adapter=native,device_id=dev-001,home_id=home-17 online=true,battery_pct=100,battery_low=false,rssi_dbm=-67,link_quality=120i,firmware="1.2.3 beta",fault="E,1=x",event_id="${EVENT_ID}",seq=0i,received_at_ms=1741937401456i,adapter_version=2i ${TS}`,
    );
  });

  it('tag values with space, comma and equals sign are escaped', () => {
    const e = event(
      { type: 'alarm', kind: 'smoke', state: 'active' },
      { deviceId: 'dev 1,x=y', homeId: 'h=1', adapter: { id: 'a b', version: 1 } },
    );
    expect(toLine(e)).toBe(
      `alarm,adapter=a\\ b,device_id=dev\\ 1\\,x\\=y,home_id=h\\=1,kind=smoke active=true,${COMMON},adapter_version=1i ${TS}`,
    );
  });

  it('a newline in a string field stays inside the quotes (influxd accepts it)', () => {
    const e = event({ type: 'status', status: { fault: 'line1\nline2' } });
    expect(toLine(e)).toContain('fault="line1\nline2",');
  });
});

describe('escaping helpers', () => {
  it('follows the line-protocol rules per element', () => {
    expect(escapeMeasurement('my m,e=a')).toBe('my\\ m\\,e=a');
    expect(escapeKey('my k,e=y')).toBe('my\\ k\\,e\\=y');
    expect(escapeKey('a\nb\tc')).toBe('a\\nb\\tc');
    expect(quoteString('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
  });
});

describe('timestampNs', () => {
  it('is observedAt in ms × 10^6 plus the eventId prefix mod 10^6, exact beyond 2^53', () => {
    expect(timestampNs('2025-03-14T07:30:00.123Z', EVENT_ID)).toBe(TS);
    expect(timestampNs('2025-03-14T07:30:00.123Z', 'ffffffff000000000000000000000000')).toBe('1741937400123967295'); // 4294967295 mod 10^6
    expect(timestampNs('2025-03-14T07:30:00.123Z', '00000000ffffffffffffffffffffffff')).toBe('1741937400123000000');
    expect(timestampNs('2025-03-14T08:30:00.123+01:00', EVENT_ID)).toBe(TS);
    expect(timestampNs('1970-01-01T00:00:00.000Z', '000f4241000000000000000000000000')).toBe('1'); // 1000001 mod 10^6
  });

  it('the same event gives the same time; different events in one ms almost always differ', () => {
    const a = event({ type: 'alarm', kind: 'fall', state: 'active' });
    expect(toLine(a)).toBe(toLine(structuredClone(a)));
    const b = event({ type: 'alarm', kind: 'fall', state: 'active' }, { eventId: '0a1b2c3e4e5f60718293a4b5c6d7e8f9' });
    expect(toLine(b).endsWith(' 1741937400123552958')).toBe(true);
  });
});

describe('schema conventions', () => {
  it('one measurement per family, field names carry no family clash with the common fields', () => {
    expect(Object.keys(FIELD_TYPES).sort()).toEqual([...MEASUREMENTS].sort());
    for (const m of MEASUREMENTS) {
      for (const f of Object.keys(FIELD_TYPES[m])) expect(Object.keys(COMMON_FIELD_TYPES)).not.toContain(f);
    }
  });

  it('a value that does not fit the field type is a bug and throws', () => {
    const e = event({ type: 'measurement', readings: { temperature_c: 21 } });
    (e.body as { readings: Record<string, unknown> }).readings.temperature_c = Number.NaN;
    expect(() => toLine(e)).toThrow(/temperature_c/);
  });
});
