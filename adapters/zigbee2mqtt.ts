import { z } from 'zod';
import {
  DeviceStatusSchema,
  SensorReadingsSchema,
  type AlarmEvent,
  type DecodedEvent,
  type EventBody,
  type LockEvent,
  type MeasurementEvent,
  type StatusEvent,
} from './canonical.js';
import {
  decodeUtf8,
  deviceTime,
  fail,
  fromZodError,
  ok,
  parseJson,
  type Adapter,
  type AdapterInput,
  type DecodeResult,
} from './contract.js';

// `zigbee2mqtt` — a home hub running Zigbee2MQTT, connected as a bridge. Its base topic is
// `tryggheim/v1/bridges/{bridgeId}`, so `subtopic` is what Zigbee2MQTT publishes below it:
//
//   <friendly_name>               device state   {"contact":false,"battery":91,"linkquality":120,"tamper":false}
//   <friendly_name>/availability  {"state":"online"}  (or the legacy plain `online` / `offline`)
//   bridge/state                  the hub itself, same two forms (an event without `child`)
//   bridge/<anything else>        unsupported (bridge/info, bridge/devices, bridge/logging, bridge/event ...)
//   <friendly_name>/set|get[/..]  unsupported (command echoes)
//
// Zigbee2MQTT payloads are open-ended (every converter adds its own fields), so unknown fields are ignored —
// but only if they are booleans, numbers within ±2^53 or short strings; a known field with a wrong type, an
// object/array/null where a scalar belongs, or a `__proto__`/`constructor`/`prototype` key is refused.
// Zigbee2MQTT republishes the device's whole cached state with every message, so state-like fields
// (contact, tamper, lock_state ...) repeat; the alert rules dedupe transitions, the adapter does not.

/** Same rule as the registry's friendly names (gateway/devices/ids.ts): no '/', first character alphanumeric. */
const FRIENDLY_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Ignored fields: anything Zigbee2MQTT may add (voltage, power_outage_count, device_temperature ...). */
const Ignored = z.union([z.boolean(), z.number().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER), z.string().max(256)], {
  error: 'an unmapped Zigbee2MQTT field must be a boolean, a number within ±2^53 or a string of at most 256 characters',
});

const AvailabilitySchema = z.strictObject({ state: z.enum(['online', 'offline']) });

// ── Locks (zigbee-herdsman-converters fz.lock / fz.lock_operation_event, ZCL Door Lock cluster) ──────────────
type LockKind = LockEvent['kind'];
type LockMethod = NonNullable<LockEvent['method']>;

/** `action` values from the ZCL operation event codes and vendor converters that report a lock operation. */
const LOCK_ACTIONS: ReadonlyMap<string, { kind: LockKind; method?: LockMethod }> = new Map(
  Object.entries({
    lock: { kind: 'locked' },
    unlock: { kind: 'unlocked' },
    one_touch_lock: { kind: 'locked', method: 'manual' },
    key_lock: { kind: 'locked', method: 'key' },
    key_unlock: { kind: 'unlocked', method: 'key' },
    auto_lock: { kind: 'locked', method: 'auto' },
    schedule_lock: { kind: 'locked', method: 'auto' },
    schedule_unlock: { kind: 'unlocked', method: 'auto' },
    manual_lock: { kind: 'locked', method: 'manual' },
    manual_unlock: { kind: 'unlocked', method: 'manual' },
    keypad_lock: { kind: 'locked', method: 'keypad' },
    keypad_unlock: { kind: 'unlocked', method: 'keypad' },
    rfid_lock: { kind: 'locked', method: 'rfid' },
    rfid_unlock: { kind: 'unlocked', method: 'rfid' },
    // The canonical model has no biometric method: a fingerprint is reported as `unknown`.
    fingerprint_lock: { kind: 'locked', method: 'unknown' },
    fingerprint_unlock: { kind: 'unlocked', method: 'unknown' },
    zigbee_unlock: { kind: 'unlocked', method: 'app' },
    lock_failure_invalid_pin_or_id: { kind: 'failed_attempt' },
    lock_failure_invalid_schedule: { kind: 'failed_attempt' },
    unlock_failure_invalid_pin_or_id: { kind: 'failed_attempt' },
    unlock_failure_invalid_schedule: { kind: 'failed_attempt' },
    error_jammed: { kind: 'jammed' },
  } satisfies Record<string, { kind: LockKind; method?: LockMethod }>),
);

/** `action_source_name` (zigbee-herdsman-converters `lockSourceName`: ZCL operation event source 0–4). */
const LOCK_SOURCES: ReadonlyMap<string, LockMethod> = new Map(
  Object.entries({
    keypad: 'keypad',
    rfid: 'rfid',
    manual: 'manual',
    // ZCL "RF": a command over the Zigbee network, i.e. from the hub, an app or an automation.
    rf: 'app',
    fingerprint: 'unknown',
  } satisfies Record<string, LockMethod>),
);

const LOCK_STATES = { locked: 'locked', unlocked: 'unlocked', not_fully_locked: 'jammed' } as const satisfies Record<string, LockKind>;
const DOOR_STATES = { open: 'opened', closed: 'closed', error_jammed: 'jammed', error_forced_open: 'forced' } as const satisfies Record<
  string,
  LockKind
>;

const keysOf = <T extends object>(o: T) => Object.keys(o) as [keyof T & string, ...(keyof T & string)[]];

const ALARM_FIELDS = ['water_leak', 'smoke', 'tamper', 'vibration'] as const satisfies readonly AlarmEvent['kind'][];

const DeviceStateSchema = z
  .object({
    occupancy: z.boolean().optional(),
    contact: z.boolean().optional(),
    water_leak: z.boolean().optional(),
    smoke: z.boolean().optional(),
    tamper: z.boolean().optional(),
    vibration: z.boolean().optional(),
    battery: DeviceStatusSchema.shape.battery_pct,
    battery_low: z.boolean().optional(),
    linkquality: DeviceStatusSchema.shape.link_quality,
    temperature: SensorReadingsSchema.shape.temperature_c,
    humidity: SensorReadingsSchema.shape.humidity_pct,
    illuminance_lux: SensorReadingsSchema.shape.illuminance_lux,
    illuminance: SensorReadingsSchema.shape.illuminance_lux,
    lock_state: z.enum(keysOf(LOCK_STATES)).optional(),
    // Shared with switches and covers (ON/OFF, OPEN/CLOSE): only LOCK/UNLOCK is mapped.
    state: z.string().min(1).max(32).optional(),
    // Shared with buttons and sensors (single, vibration, tilt ...): only lock operations are mapped.
    // An empty string is Zigbee2MQTT's legacy "action reset".
    action: z.string().max(64).optional(),
    action_source: z.number().int().min(0).max(255).optional(),
    action_source_name: z.string().min(1).max(32).optional(),
    action_user: z.number().int().min(0).max(65_535).optional(),
    // Door sensor built into some locks; `error_unspecified` and `undefined` carry nothing to map.
    door_state: z.enum([...keysOf(DOOR_STATES), 'error_unspecified', 'undefined']).optional(),
    // Zigbee2MQTT's `advanced.last_seen`: ISO_8601, ISO_8601_local or epoch (milliseconds).
    last_seen: z.union([z.iso.datetime({ offset: true }), z.number()]).optional(),
    // The structured fields Zigbee2MQTT adds to locks and OTA-capable devices; checked, never mapped.
    update: z
      .object({
        state: z.string().min(1).max(32).optional(),
        installed_version: z.number().int().nullable().optional(),
        latest_version: z.number().int().nullable().optional(),
      })
      .catchall(Ignored)
      .optional(),
    users: z.record(z.string().regex(/^\d{1,5}$/), z.object({ status: z.string().min(1).max(32) }).catchall(Ignored)).optional(),
  })
  .catchall(Ignored);

type DeviceState = z.infer<typeof DeviceStateSchema>;

/** Drops undefined values, so readings carry only what the payload had. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function lockEvents(s: DeviceState): LockEvent[] {
  const events: LockEvent[] = [];
  const op = s.action !== undefined ? LOCK_ACTIONS.get(s.action) : undefined;
  if (op) {
    // An operation report is the freshest word on the lock's position: lock_state/state in the same message
    // may still be the cached value from before the operation, so they are not reported again beside it.
    const source = s.action_source_name !== undefined ? (LOCK_SOURCES.get(s.action_source_name) ?? 'unknown') : undefined;
    const method = op.method ?? source;
    const operated = op.kind === 'locked' || op.kind === 'unlocked';
    events.push({
      type: 'lock',
      kind: op.kind,
      ...(method !== undefined ? { method } : {}),
      ...(operated && s.action_user !== undefined ? { credentialRef: `user-${s.action_user}` } : {}),
    });
  } else if (s.lock_state !== undefined) {
    events.push({ type: 'lock', kind: LOCK_STATES[s.lock_state] });
  } else if (s.state === 'LOCK' || s.state === 'UNLOCK') {
    events.push({ type: 'lock', kind: s.state === 'LOCK' ? 'locked' : 'unlocked' });
  }
  if (s.door_state !== undefined && s.door_state !== 'error_unspecified' && s.door_state !== 'undefined') {
    events.push({ type: 'lock', kind: DOOR_STATES[s.door_state] });
  }
  return events;
}

/** Measurement first, then alarms, lock, status: one fixed order, whatever the payload's key order. */
function toBodies(s: DeviceState): EventBody[] {
  const bodies: EventBody[] = [];
  const readings: MeasurementEvent['readings'] = defined({
    temperature_c: s.temperature,
    humidity_pct: s.humidity,
    // Older Zigbee2MQTT sends lux as `illuminance_lux` (and a raw value in `illuminance`); newer, lux in `illuminance`.
    illuminance_lux: s.illuminance_lux ?? s.illuminance,
    motion: s.occupancy,
    // Zigbee2MQTT's `contact: true` means the magnet is near: the door is CLOSED.
    contact_open: s.contact === undefined ? undefined : !s.contact,
  });
  if (Object.keys(readings).length > 0) bodies.push({ type: 'measurement', readings });
  for (const kind of ALARM_FIELDS) {
    const active = s[kind];
    if (active !== undefined) bodies.push({ type: 'alarm', kind, state: active ? 'active' : 'cleared' });
  }
  bodies.push(...lockEvents(s));
  const status: StatusEvent['status'] = defined({ battery_pct: s.battery, battery_low: s.battery_low, link_quality: s.linkquality });
  if (Object.keys(status).length > 0) bodies.push({ type: 'status', status });
  return bodies;
}

function decodeDeviceState(input: AdapterInput, child: string): DecodeResult {
  const json = parseJson(input.payload);
  if (!json.ok) return json.result;
  const value = json.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('invalid_payload', 'a Zigbee2MQTT device state is a JSON object');
  }
  // JSON.parse makes these own keys; refuse them rather than let them travel anywhere.
  const forbidden = Object.keys(value).find((k) => FORBIDDEN_KEYS.has(k));
  if (forbidden !== undefined) return fail('invalid_payload', `field "${forbidden}" is not allowed`, [forbidden]);
  const parsed = DeviceStateSchema.safeParse(value);
  if (!parsed.success) return fromZodError(parsed.error);
  const s = parsed.data;

  let observedAt: string | undefined;
  if (s.last_seen !== undefined) {
    const t = deviceTime(typeof s.last_seen === 'number' ? s.last_seen : Date.parse(s.last_seen), input.receivedAt);
    if (!t.ok) return fail('invalid_payload', t.message, ['last_seen']);
    observedAt = t.iso;
  }
  const bodies = toBodies(s);
  if (bodies.length === 0)
    return fail('unsupported', 'no field this adapter maps (e.g. occupancy, contact, temperature, battery, lock_state)');
  return ok(bodies.map((body): DecodedEvent => ({ body, child, ...(observedAt !== undefined ? { observedAt } : {}) })));
}

/** `{"state":"online"}`, or the legacy plain `online`/`offline` (Zigbee2MQTT's `legacy_availability_payload`). */
function decodeAvailability(input: AdapterInput, child: string | undefined): DecodeResult {
  const text = decodeUtf8(input.payload);
  if (text === undefined) return fail('malformed', 'payload is not valid UTF-8');
  let online: boolean;
  if (text === 'online' || text === 'offline') {
    online = text === 'online';
  } else {
    const json = parseJson(input.payload);
    if (!json.ok) return json.result;
    const parsed = AvailabilitySchema.safeParse(json.value);
    if (!parsed.success) return fromZodError(parsed.error);
    online = parsed.data.state === 'online';
  }
  return ok([{ body: { type: 'status', status: { online } }, ...(child !== undefined ? { child } : {}) }]);
}

function decode(input: AdapterInput): DecodeResult {
  const [head = '', second, ...rest] = input.subtopic.split('/');
  if (head === 'bridge') {
    if (second === 'state' && rest.length === 0) return decodeAvailability(input, undefined);
    return fail('unsupported', `bridge topic "${input.subtopic.slice(0, 80)}" carries nothing to map`);
  }
  if (!FRIENDLY_NAME.test(head)) {
    return fail(
      'invalid_payload',
      "friendly name in the topic must be 1–64 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
    );
  }
  if (second === undefined) return decodeDeviceState(input, head);
  if (second === 'availability' && rest.length === 0) return decodeAvailability(input, head);
  if (second === 'set' || second === 'get') return fail('unsupported', `"${second}" is a command to the device, not a report from it`);
  return fail(
    'invalid_payload',
    "friendly names must not contain '/' (and per-attribute topics are not supported: use Zigbee2MQTT's JSON output)",
  );
}

export const zigbee2mqttAdapter = {
  id: 'zigbee2mqtt',
  version: 1,
  title: 'Zigbee2MQTT home hub (bridge): device state, availability',
  deviceClasses: ['bridge'],
  decode,
} as const satisfies Adapter;
