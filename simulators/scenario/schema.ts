// The scenario file, as zod (the schema is the type). This is the shape check only; what needs the whole
// file (a home named by an incident exists, a format suits its device kind, a time lies in the scenario)
// is checked in load.ts, with the same file:line field messages.
import { z } from 'zod';
import { FORMATS, INCIDENT_TYPES, type SensorRole } from '../types.js';
import { DURATION_RE, LOCAL_DATE_RE, LOCAL_TIME_RE } from './time.js';

export const SENSOR_ROLES = [
  'motion',
  'bed',
  'chair',
  'door-contact',
  'climate',
  'water-leak',
  'smoke',
  'fall',
  'panic',
  'light',
] as const satisfies readonly SensorRole[];
// Both directions: a role added to types.ts without being listed here fails to compile.
const _allRoles: readonly (typeof SENSOR_ROLES)[number][] = [] as SensorRole[];

export const DurationSchema = z.string().regex(DURATION_RE, 'expected a duration like 3h, 15m, 1h30m or 1d');
export const LocalTimeSchema = z.string().regex(LOCAL_TIME_RE, 'expected a local time HH:MM, e.g. "08:00"');
const LocalDateSchema = z.string().regex(LOCAL_DATE_RE, 'expected a date YYYY-MM-DD');
/** Ids end up in MQTT client ids and topics: lower-case, no separators that MQTT or the registry treat specially. */
export const HomeIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected a home id of a-z, 0-9 and -, e.g. h003');
const ModelSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a model id of letters, digits, . _ -');
const PercentSchema = z.number().min(0).max(100);

/** One format, or a mix by weight (`{ evcode-dispenser: 50, csv-dispenser: 50 }`), split exactly over the homes. */
export const FormatMixSchema = z.union([z.enum(FORMATS), z.partialRecord(z.enum(FORMATS), z.number().min(0))]);

const GroupFields = {
  /** Percentage of homes that have this device (default 100), chosen by the seed. */
  share: PercentSchema.optional(),
  /** Devices of this kind per home that has it. */
  count: z.int().min(1).max(20).optional(),
  formats: FormatMixSchema,
  model: ModelSchema.optional(),
  power: z.enum(['mains', 'battery']).optional(),
};
export const DeviceGroupSchema = z.strictObject(GroupFields);
const { count: _perHome, ...sensorGroupFields } = GroupFields;

const RoleSchema = z.enum(SENSOR_ROLES);
/** A sensor unit: one role, a multi-sensor's roles, or either with its own share of homes. */
export const SensorUnitSchema = z.union([
  RoleSchema,
  z.array(RoleSchema).min(1),
  z.strictObject({ roles: z.array(RoleSchema).min(1), share: PercentSchema.optional(), model: ModelSchema.optional() }),
]);

export const DevicesSchema = z.strictObject({
  dispenser: DeviceGroupSchema.optional(),
  lock: DeviceGroupSchema.optional(),
  /** A home's sensors all share one format; with `zigbee2mqtt` they sit behind the home's hub. */
  sensors: z.strictObject({ ...sensorGroupFields, units: z.array(SensorUnitSchema).min(1) }).optional(),
  vitals: DeviceGroupSchema.optional(),
  /** The Zigbee2MQTT hub a home gets when any of its devices use the zigbee2mqtt format. */
  hub: z.strictObject({ model: ModelSchema.optional() }).optional(),
});

export const FleetSchema = z.strictObject({
  /** A count (ids `h001`, `h002`, … with `idPrefix`) or an explicit list of ids, each optionally with its own devices. */
  homes: z.union([
    z.int().min(1).max(10_000),
    z.array(z.union([HomeIdSchema, z.strictObject({ id: HomeIdSchema, devices: DevicesSchema })])).min(1),
  ]),
  idPrefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,15}$/, 'expected a lower-case prefix, e.g. h')
    .default('h'),
  devices: DevicesSchema,
});

export const IncidentFileSchema = z.strictObject({
  type: z.enum(INCIDENT_TYPES),
  /** A home id (`h003`), or its number in a counted fleet (`3`, `h3`). */
  home: z.union([z.string().min(1), z.int().min(1)]),
  /** Scenario day, 1 = the local date the scenario starts. Without it: the first such local time at or after the start. */
  day: z.int().min(1).max(366).optional(),
  at: LocalTimeSchema,
  duration: DurationSchema.optional(),
  device: z.string().min(1).optional(),
  count: z.int().min(1).max(1000).optional(),
});

export const ScenarioFileSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(''),
  seed: z.union([z.int(), z.string().min(1)]),
  timeZone: z.string().default('Europe/Oslo'),
  /** ISO date-time with offset (absolute), without offset (local in timeZone), `{ date, time }` (local), or `now`. */
  start: z.union([z.string().min(1), z.strictObject({ date: LocalDateSchema, time: LocalTimeSchema })]),
  duration: DurationSchema,
  speed: z.union([z.number().positive(), z.literal('max')]).default(1),
  fleet: FleetSchema,
  incidents: z.array(IncidentFileSchema).default([]),
  /** Incidents drawn from the seed (busy district): times spread over the run, homes that can have them. */
  randomIncidents: z
    .strictObject({
      count: z.int().min(0).max(100_000),
      types: z.array(z.enum(INCIDENT_TYPES)).min(1).optional(),
    })
    .optional(),
});

export type ScenarioFile = z.infer<typeof ScenarioFileSchema>;
export type FleetFile = z.infer<typeof FleetSchema>;
export type DevicesFile = z.infer<typeof DevicesSchema>;
export type DeviceGroupFile = z.infer<typeof DeviceGroupSchema>;
export type SensorUnitFile = z.infer<typeof SensorUnitSchema>;
export type FormatMix = z.infer<typeof FormatMixSchema>;
export type IncidentFile = z.infer<typeof IncidentFileSchema>;
