import { z } from 'zod';

// The canonical vocabulary: every vendor payload becomes one or more of these events. Types come from the
// schemas (never declared twice). Units are in field names and never change; a field keeps one type forever
// (it becomes an InfluxDB field of that type).

/** zod leaves absent optional keys out of the object; a key present with `undefined` counts as absent too. */
function hasAnyValue(r: object): boolean {
  return Object.values(r).some((v: unknown) => v !== undefined);
}

/** ISO-8601 instant with an explicit offset, normalised by adapters to UTC (`toISOString()` form). */
export const InstantSchema = z.iso.datetime({ offset: true });

// ── Medication dispensers ───────────────────────────────────────────────────────────────────────────────
export const DoseEventKindSchema = z.enum([
  'due',
  'dispensed',
  'taken',
  'missed',
  'not_dispensed',
  'refused',
  'early',
  'late',
  'refill_needed',
  'empty',
  'jam',
  'tamper',
  'power_lost',
  'power_restored',
]);

export const DoseEventSchema = z.strictObject({
  type: z.literal('dose'),
  kind: DoseEventKindSchema,
  /** The dose's scheduled time, when the dispenser reports it. */
  scheduledAt: InstantSchema.optional(),
  /** The dispenser's slot or dose label (e.g. "08:00", "morning", "3"). Opaque, no medication names. */
  slot: z.string().min(1).max(32).optional(),
});

// ── Door locks ──────────────────────────────────────────────────────────────────────────────────────────
export const LockEventKindSchema = z.enum(['locked', 'unlocked', 'opened', 'closed', 'left_open', 'jammed', 'forced', 'failed_attempt']);
export const LockMethodSchema = z.enum(['key', 'keypad', 'app', 'rfid', 'auto', 'manual', 'unknown']);

export const LockEventSchema = z.strictObject({
  type: z.literal('lock'),
  kind: LockEventKindSchema,
  method: LockMethodSchema.optional(),
  /** Opaque credential or staff reference as the lock reports it (a key tag id, never a person's name). */
  credentialRef: z.string().min(1).max(64).optional(),
});

// ── Home sensors: measurements and alarms ───────────────────────────────────────────────────────────────
/** One reading may carry several quantities (a Zigbee sensor reports temperature and humidity together). */
export const SensorReadingsSchema = z
  .strictObject({
    temperature_c: z.number().min(-60).max(100).optional(),
    humidity_pct: z.number().min(0).max(100).optional(),
    illuminance_lux: z.number().min(0).max(200_000).optional(),
    motion: z.boolean().optional(),
    bed_occupied: z.boolean().optional(),
    chair_occupied: z.boolean().optional(),
    /** Door or window contact: true = open. (Zigbee2MQTT's `contact: true` means closed; adapters invert it.) */
    contact_open: z.boolean().optional(),
  })
  .refine((r) => hasAnyValue(r), { message: 'a measurement needs at least one reading' });

export const MeasurementEventSchema = z.strictObject({
  type: z.literal('measurement'),
  readings: SensorReadingsSchema,
});

export const AlarmKindSchema = z.enum(['fall', 'smoke', 'water_leak', 'panic', 'bed_exit', 'tamper', 'vibration']);

export const AlarmEventSchema = z.strictObject({
  type: z.literal('alarm'),
  kind: AlarmKindSchema,
  /** `active` when the condition starts (or is a one-shot like a fall), `cleared` when the device reports it over. */
  state: z.enum(['active', 'cleared']),
});

// ── Vital signs (digital home follow-up) ────────────────────────────────────────────────────────────────
export const VitalReadingsSchema = z
  .strictObject({
    heart_rate_bpm: z.number().min(0).max(400).optional(),
    spo2_pct: z.number().min(0).max(100).optional(),
    bp_systolic_mmhg: z.number().min(0).max(400).optional(),
    bp_diastolic_mmhg: z.number().min(0).max(300).optional(),
    body_weight_kg: z.number().min(0).max(500).optional(),
    body_temperature_c: z.number().min(20).max(50).optional(),
    blood_glucose_mmol_l: z.number().min(0).max(100).optional(),
  })
  .refine((r) => hasAnyValue(r), { message: 'a vital-signs event needs at least one reading' });

export const VitalsEventSchema = z.strictObject({
  type: z.literal('vitals'),
  readings: VitalReadingsSchema,
});

// ── Device status ───────────────────────────────────────────────────────────────────────────────────────
export const DeviceStatusSchema = z
  .strictObject({
    online: z.boolean().optional(),
    battery_pct: z.number().min(0).max(100).optional(),
    battery_low: z.boolean().optional(),
    /** Received signal strength in dBm (negative), or a 0–255 link quality for Zigbee (`linkquality`). */
    rssi_dbm: z.number().min(-200).max(0).optional(),
    link_quality: z.number().int().min(0).max(255).optional(),
    firmware: z.string().min(1).max(64).optional(),
    /** A fault code as the device reports it (opaque, short). */
    fault: z.string().min(1).max(64).optional(),
  })
  .refine((r) => hasAnyValue(r), { message: 'a status event needs at least one field' });

export const StatusEventSchema = z.strictObject({
  type: z.literal('status'),
  status: DeviceStatusSchema,
});

// ── The event an adapter produces, and the envelope the gateway adds ────────────────────────────────────
export const EventBodySchema = z.discriminatedUnion('type', [
  DoseEventSchema,
  LockEventSchema,
  MeasurementEventSchema,
  AlarmEventSchema,
  VitalsEventSchema,
  StatusEventSchema,
]);

/** What an adapter returns per event: the body plus the device clock's time when the payload has one. */
export const DecodedEventSchema = z.strictObject({
  body: EventBodySchema,
  observedAt: InstantSchema.optional(),
  /** The device's own message counter, when it sends one (gaps show lost messages; stored as field `seq`). */
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** For bridges: which child (friendly name) the event is about; the gateway maps it to a device id. */
  child: z.string().min(1).max(64).optional(),
});

export const CanonicalEventSchema = z.strictObject({
  /** Deterministic: the same journaled message decoded again yields the same ids. */
  eventId: z.string().regex(/^[0-9a-f]{32}$/),
  deviceId: z.string().min(1),
  /** The home the device was assigned to when the message was received; null when unassigned. */
  homeId: z.string().min(1).nullable(),
  adapter: z.strictObject({ id: z.string().min(1), version: z.number().int().min(1) }),
  /** Device clock when the payload carries a time, otherwise the receive time. */
  observedAt: InstantSchema,
  /** Gateway clock when the message was journaled. */
  receivedAt: InstantSchema,
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  body: EventBodySchema,
});

export type DoseEvent = z.infer<typeof DoseEventSchema>;
export type LockEvent = z.infer<typeof LockEventSchema>;
export type MeasurementEvent = z.infer<typeof MeasurementEventSchema>;
export type AlarmEvent = z.infer<typeof AlarmEventSchema>;
export type VitalsEvent = z.infer<typeof VitalsEventSchema>;
export type StatusEvent = z.infer<typeof StatusEventSchema>;
export type EventBody = z.infer<typeof EventBodySchema>;
export type DecodedEvent = z.infer<typeof DecodedEventSchema>;
export type CanonicalEvent = z.infer<typeof CanonicalEventSchema>;
