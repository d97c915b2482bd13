import { z } from 'zod';
import {
  AlarmKindSchema,
  DeviceStatusSchema,
  DoseEventKindSchema,
  LockEventKindSchema,
  LockMethodSchema,
  SensorReadingsSchema,
  VitalReadingsSchema,
  type DecodedEvent,
  type EventBody,
} from './canonical.js';
import { deviceTime, fail, fromZodError, ok, parseJson, type Adapter, type DecodeResult } from './contract.js';

// `tryggheim` — the native JSON format, for all device classes. This is the format a device maker should
// implement (adapters/README.md documents it). One message is one event object, or `{ "events": [...] }`.
//
//   {"type":"dose.taken","ts":"2026-11-23T08:02:11Z","seq":42,"slot":"08:00","scheduledAt":"2026-11-23T08:00:00Z"}
//   {"type":"lock.unlocked","ts":1795420931000,"method":"rfid","credentialRef":"tag-0042"}
//   {"type":"measurement","temperature_c":21.5,"humidity_pct":40}
//   {"type":"alarm.fall"}            {"type":"alarm.water_leak","state":"cleared"}
//   {"type":"vitals","heart_rate_bpm":72,"spo2_pct":97}
//   {"type":"status","battery_pct":80,"firmware":"1.4.2"}

const Time = z.union([z.iso.datetime({ offset: true }), z.number()]);
const Common = { ts: Time.optional(), seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() };

const prefixed = (prefix: string, kinds: readonly string[]) => z.enum(kinds.map((k) => `${prefix}.${k}`) as [string, ...string[]]);

const NativeEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: prefixed('dose', DoseEventKindSchema.options),
    ...Common,
    slot: z.string().min(1).max(32).optional(),
    scheduledAt: z.iso.datetime({ offset: true }).optional(),
  }),
  z.strictObject({
    type: prefixed('lock', LockEventKindSchema.options),
    ...Common,
    method: LockMethodSchema.optional(),
    credentialRef: z.string().min(1).max(64).optional(),
  }),
  z.strictObject({ type: z.literal('measurement'), ...Common, ...SensorReadingsSchema.shape }),
  z.strictObject({ type: prefixed('alarm', AlarmKindSchema.options), ...Common, state: z.enum(['active', 'cleared']).default('active') }),
  z.strictObject({ type: z.literal('vitals'), ...Common, ...VitalReadingsSchema.shape }),
  z.strictObject({ type: z.literal('status'), ...Common, ...DeviceStatusSchema.shape }),
]);

const BatchSchema = z.strictObject({ events: z.array(NativeEventSchema).min(1).max(100) });

type NativeEvent = z.infer<typeof NativeEventSchema>;

/** Maps a native event to its canonical body; `ok()` validates the result against the canonical schema. */
function toBody(e: NativeEvent): EventBody {
  const { type, ts: _ts, seq: _seq, ...rest } = e;
  const [family, kind] = type.split('.', 2);
  switch (family) {
    case 'dose':
    case 'lock':
    case 'alarm':
      return { type: family, kind, ...rest } as EventBody;
    case 'measurement':
    case 'vitals':
      return { type: family, readings: rest } as EventBody;
    case 'status':
      return { type: 'status', status: rest } as EventBody;
    default:
      throw new Error(`unreachable: event type ${type}`); // the schema admits no other family
  }
}

function decode(input: { payload: Uint8Array; receivedAt: string }): DecodeResult {
  const json = parseJson(input.payload);
  if (!json.ok) return json.result;
  // Pick the shape first rather than z.union, so that issues point into the payload, not at "no union member matched".
  const isBatch = typeof json.value === 'object' && json.value !== null && Object.hasOwn(json.value, 'events');
  const parsed = isBatch ? BatchSchema.safeParse(json.value) : NativeEventSchema.safeParse(json.value);
  if (!parsed.success) return fromZodError(parsed.error);
  const list = 'events' in parsed.data ? parsed.data.events : [parsed.data];
  const events: DecodedEvent[] = [];
  for (const [i, e] of list.entries()) {
    let observedAt: string | undefined;
    if (e.ts !== undefined) {
      const t = deviceTime(typeof e.ts === 'number' ? e.ts : Date.parse(e.ts), input.receivedAt);
      if (!t.ok) return fail('invalid_payload', t.message, 'events' in parsed.data ? ['events', i, 'ts'] : ['ts']);
      observedAt = t.iso;
    }
    events.push({ body: toBody(e), ...(observedAt ? { observedAt } : {}), ...(e.seq !== undefined ? { seq: e.seq } : {}) });
  }
  return ok(events);
}

export const tryggheimAdapter = {
  id: 'tryggheim',
  version: 1,
  title: 'Tryggheim native JSON (all device classes)',
  deviceClasses: ['dispenser', 'lock', 'sensor', 'vitals'],
  decode,
} as const satisfies Adapter;
