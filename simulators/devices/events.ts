// The simulator's own semantic vocabulary: what happened at a device, before any wire format. Deliberately
// NOT the canonical model (adapters/canonical.ts): simulators are black-box (simulators/README.md), so the
// names here follow what a device knows, and formats/ decides how each vendor would say it. Plain types, not
// zod: nothing here is parsed from outside, it is built by the device models.

export const DOSE_KINDS = [
  'due',
  'dispensed',
  'taken',
  'missed',
  'not_dispensed',
  'late',
  'refill_needed',
  'empty',
  'jam',
  'power_lost',
  'power_restored',
] as const;
export type DoseKind = (typeof DOSE_KINDS)[number];

/** A dispenser event. Slot-less kinds (refill_needed, empty, jam, power_*) leave slot and scheduledAt out. */
export interface DoseSimEvent {
  readonly type: 'dose';
  readonly kind: DoseKind;
  /** The dose's time-of-day label in local time, e.g. `08:00`. */
  readonly slot?: string;
  /** The dose's scheduled time, epoch ms. */
  readonly scheduledAt?: number;
  /** Carousel pocket 1–99 the dose sits in (formats that number pockets instead of labelling slots). */
  readonly position?: number;
}

export const LOCK_KINDS = ['locked', 'unlocked', 'opened', 'closed', 'left_open', 'jammed', 'forced', 'failed_attempt'] as const;
export type LockKind = (typeof LOCK_KINDS)[number];
export type LockMethod = 'key' | 'keypad' | 'app' | 'rfid' | 'auto' | 'manual' | 'unknown';

export interface LockSimEvent {
  readonly type: 'lock';
  readonly kind: LockKind;
  readonly method?: LockMethod;
  /** Opaque credential reference as the lock stores it: `tag-0042` (RFID) or `staff-017` (keypad code). */
  readonly credentialRef?: string;
  /** The lock's own user slot number for that credential (Zigbee locks report slots, not references). */
  readonly userSlot?: number;
}

export interface Readings {
  readonly temperatureC?: number;
  readonly humidityPct?: number;
  readonly illuminanceLux?: number;
  readonly motion?: boolean;
  readonly bedOccupied?: boolean;
  readonly chairOccupied?: boolean;
  /** Door contact: true = open (formats invert where their vendor does). */
  readonly doorOpen?: boolean;
}

export interface MeasurementSimEvent {
  readonly type: 'measurement';
  readonly readings: Readings;
}

export const ALARM_KINDS = ['fall', 'smoke', 'water_leak', 'panic', 'bed_exit', 'tamper'] as const;
export type AlarmKind = (typeof ALARM_KINDS)[number];

export interface AlarmSimEvent {
  readonly type: 'alarm';
  readonly kind: AlarmKind;
  readonly state: 'active' | 'cleared';
}

export interface Vitals {
  readonly heartRateBpm?: number;
  readonly spo2Pct?: number;
  readonly systolicMmHg?: number;
  readonly diastolicMmHg?: number;
  readonly weightKg?: number;
  readonly bodyTemperatureC?: number;
  readonly glucoseMmolL?: number;
}

export interface VitalsSimEvent {
  readonly type: 'vitals';
  readonly readings: Vitals;
}

export interface StatusSimEvent {
  readonly type: 'status';
  readonly batteryPct?: number;
  readonly batteryLow?: boolean;
  readonly firmware?: string;
  readonly rssiDbm?: number;
  /** Zigbee link quality 0–255. */
  readonly linkQuality?: number;
}

/** A bridged child's reachability as the hub sees it (Zigbee2MQTT availability). Direct clients use the will. */
export interface AvailabilitySimEvent {
  readonly type: 'availability';
  readonly online: boolean;
}

export type SimEvent =
  DoseSimEvent | LockSimEvent | MeasurementSimEvent | AlarmSimEvent | VitalsSimEvent | StatusSimEvent | AvailabilitySimEvent;
