import type { CanonicalEvent, MeasurementEvent, StatusEvent, VitalsEvent } from '../../adapters/canonical.js';

// One canonical event → one InfluxDB line-protocol line (docs/adr/005-influxdb-storage.md).
// Pure: no clock, no I/O. The schema below is the storage contract: a field keeps its type forever
// (InfluxDB refuses a point whose field type differs from the shard's), units are in the names.

export const MEASUREMENTS = ['dose', 'lock', 'sensor', 'alarm', 'vitals', 'device_status'] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

export type FieldType = 'float' | 'integer' | 'boolean' | 'string';

/** Tags: low-cardinality ids only, in the sorted order InfluxDB prefers (it sorts them anyway). */
export const TAG_KEYS = ['adapter', 'device_id', 'home_id', 'kind'] as const;
export type TagKey = (typeof TAG_KEYS)[number];

type FieldTypesOf<T> = { readonly [K in keyof T]-?: FieldType };

const SENSOR_FIELDS = {
  temperature_c: 'float',
  humidity_pct: 'float',
  illuminance_lux: 'float',
  motion: 'boolean',
  bed_occupied: 'boolean',
  chair_occupied: 'boolean',
  contact_open: 'boolean',
} as const satisfies FieldTypesOf<MeasurementEvent['readings']>;

const VITALS_FIELDS = {
  heart_rate_bpm: 'float',
  spo2_pct: 'float',
  bp_systolic_mmhg: 'float',
  bp_diastolic_mmhg: 'float',
  body_weight_kg: 'float',
  body_temperature_c: 'float',
  blood_glucose_mmol_l: 'float',
} as const satisfies FieldTypesOf<VitalsEvent['readings']>;

const STATUS_FIELDS = {
  online: 'boolean',
  battery_pct: 'float',
  battery_low: 'boolean',
  rssi_dbm: 'float',
  link_quality: 'integer',
  firmware: 'string',
  fault: 'string',
} as const satisfies FieldTypesOf<StatusEvent['status']>;

/**
 * Every family field with its one type. The `satisfies` clauses make a reading added to adapters/canonical.ts
 * a compile error here until storage gives it a type. query.ts uses this to pick mean() or last().
 */
export const FIELD_TYPES = {
  dose: { slot: 'string', scheduled_at: 'string' },
  lock: { method: 'string', credential_ref: 'string' },
  sensor: SENSOR_FIELDS,
  alarm: { active: 'boolean' },
  vitals: VITALS_FIELDS,
  device_status: STATUS_FIELDS,
} as const satisfies Record<Measurement, Record<string, FieldType>>;

/** Fields every point carries, whatever its family. */
export const COMMON_FIELD_TYPES = {
  event_id: 'string',
  seq: 'integer',
  received_at_ms: 'integer',
  adapter_version: 'integer',
} as const satisfies Record<string, FieldType>;

export type FieldName<M extends Measurement> = keyof (typeof FIELD_TYPES)[M] | keyof typeof COMMON_FIELD_TYPES;

export function fieldType(measurement: Measurement, field: string): FieldType | undefined {
  const family: Readonly<Record<string, FieldType>> = FIELD_TYPES[measurement];
  const common: Readonly<Record<string, FieldType>> = COMMON_FIELD_TYPES;
  return family[field] ?? common[field];
}

export function measurementOf(body: CanonicalEvent['body']): Measurement {
  switch (body.type) {
    case 'dose':
      return 'dose';
    case 'lock':
      return 'lock';
    case 'measurement':
      return 'sensor';
    case 'alarm':
      return 'alarm';
    case 'vitals':
      return 'vitals';
    case 'status':
      return 'device_status';
  }
}

// ── Escaping (line-protocol spec: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/) ──
// Measurement: comma and space. Tag keys, tag values, field keys: comma, equals sign, space. String field
// values: double quote and backslash. A raw newline would end the line, so in names it is written as the
// two characters `\n` (as @influxdata/influxdb-client's `escape.tag` does); in a quoted string value it is
// allowed as is (influxd 1.6.7 stores it, checked).
const NAME_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function escapeMeasurement(name: string): string {
  return name.replace(/[, \n\r\t]/g, (c) => NAME_ESCAPES[c] ?? `\\${c}`);
}

/** For tag keys, tag values and field keys. */
export function escapeKey(name: string): string {
  return name.replace(/[,= \n\r\t]/g, (c) => NAME_ESCAPES[c] ?? `\\${c}`);
}

export function quoteString(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function encodeField(type: FieldType, key: string, value: unknown): string {
  switch (type) {
    case 'float':
      // A number without the `i` suffix is a float in line protocol, so 21 is written `21` and stays a
      // float field; String() never produces `i`, and exponent forms (1e-7) are accepted by influxd.
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`field ${key}: not a finite number`);
      return String(value);
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`field ${key}: not a safe integer`);
      return `${value}i`;
    case 'boolean':
      if (typeof value !== 'boolean') throw new TypeError(`field ${key}: not a boolean`);
      return value ? 'true' : 'false';
    case 'string':
      if (typeof value !== 'string') throw new TypeError(`field ${key}: not a string`);
      return quoteString(value);
  }
}

/** A field table with its keys escaped once: line building is on every message's path. */
type FieldTable = readonly (readonly [key: string, escaped: string, type: FieldType])[];
const tables = new Map<Readonly<Record<string, FieldType>>, FieldTable>();
function fieldTable(types: Readonly<Record<string, FieldType>>): FieldTable {
  let table = tables.get(types);
  if (!table) {
    table = Object.entries(types).map(([key, type]) => [key, escapeKey(key), type] as const);
    tables.set(types, table);
  }
  return table;
}

/** Appends `key=value` for each defined entry of `values`, in the schema's order (stable golden lines). */
function pushTyped(out: string[], types: Readonly<Record<string, FieldType>>, values: Readonly<Record<string, unknown>>): void {
  for (const [key, escaped, type] of fieldTable(types)) {
    const value = values[key];
    if (value !== undefined) out.push(`${escaped}=${encodeField(type, key, value)}`);
  }
}

const NS_PER_MS = 1_000_000n;

/**
 * Nanosecond timestamp: observedAt (epoch ms) × 10^6 + (first 8 hex digits of eventId) mod 10^6.
 * The same event replayed gets the same time, so it overwrites itself; two different events of one device in
 * the same millisecond differ in the sub-millisecond part except with probability 10^-6. ms × 10^6 exceeds
 * 2^53, hence BigInt.
 */
export function timestampNs(observedAt: string, eventId: string): string {
  const ms = Date.parse(observedAt);
  if (!Number.isFinite(ms)) throw new TypeError(`observedAt is not a valid instant: ${observedAt}`);
  if (!/^[0-9a-f]{8}/.test(eventId)) throw new TypeError('eventId must start with 8 hex digits');
  const sub = Number.parseInt(eventId.slice(0, 8), 16) % 1_000_000;
  // ms × 10^6 + sub with sub < 10^6 is the decimal digits of ms followed by sub in six digits; BigInt only
  // for instants before 1970 (the adapters refuse those, but this function does not rely on it).
  if (ms >= 1) return `${ms}${String(sub).padStart(6, '0')}`;
  return (BigInt(ms) * NS_PER_MS + BigInt(sub)).toString();
}

export function toLine(event: CanonicalEvent): string {
  const { body } = event;
  const measurement = measurementOf(body);

  const tags: [TagKey, string][] = [
    ['adapter', event.adapter.id],
    ['device_id', event.deviceId],
  ];
  if (event.homeId !== null) tags.push(['home_id', event.homeId]);

  const fields: string[] = [];
  switch (body.type) {
    case 'dose':
      tags.push(['kind', body.kind]);
      pushTyped(fields, FIELD_TYPES.dose, { slot: body.slot, scheduled_at: body.scheduledAt });
      break;
    case 'lock':
      tags.push(['kind', body.kind]);
      pushTyped(fields, FIELD_TYPES.lock, { method: body.method, credential_ref: body.credentialRef });
      break;
    case 'measurement':
      pushTyped(fields, FIELD_TYPES.sensor, body.readings);
      break;
    case 'alarm':
      tags.push(['kind', body.kind]);
      pushTyped(fields, FIELD_TYPES.alarm, { active: body.state === 'active' });
      break;
    case 'vitals':
      pushTyped(fields, FIELD_TYPES.vitals, body.readings);
      break;
    case 'status':
      pushTyped(fields, FIELD_TYPES.device_status, body.status);
      break;
  }
  pushTyped(fields, COMMON_FIELD_TYPES, {
    event_id: event.eventId,
    seq: event.seq,
    received_at_ms: Date.parse(event.receivedAt),
    adapter_version: event.adapter.version,
  });

  const tagPart = tags.map(([k, v]) => `,${escapeKey(k)}=${escapeKey(v)}`).join('');
  return `${escapeMeasurement(measurement)}${tagPart} ${fields.join(',')} ${timestampNs(event.observedAt, event.eventId)}`;
}
