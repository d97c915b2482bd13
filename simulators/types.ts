// The simulators' shared vocabulary. Black-box by rule (README.md): nothing here comes from adapters/ or
// gateway/. Three producers make the same thing — a time-ordered stream of `Action`s — and one player
// plays it over MQTT: a scenario (scenario/ → devices/ → formats/), a recording (recording.ts), and the
// load generator (load/).

/** The wire formats of the ingest issue's adapters, by the adapter id the registry knows them under. */
export const FORMATS = ['tryggheim', 'zigbee2mqtt', 'senml', 'fhir-observation', 'evcode-dispenser', 'csv-dispenser', 'json-lock'] as const;
export type Format = (typeof FORMATS)[number];

export type Qos = 0 | 1 | 2;

/**
 * One thing one MQTT client does at a moment of scenario time (`at`, epoch ms). `client` is the MQTT client
 * id = username: a device id, or a bridge (hub) id.
 * - `connect`: connect with the client's credentials, will = retained `offline` on its status topic, then
 *   publish retained `online` there.
 * - `drop`: the connection is lost without DISCONNECT (power or network gone): the broker publishes the will.
 * - `disconnect`: publish retained `offline`, then a clean DISCONNECT.
 * - `publish`: a publish on `topic` (the client's own `up`/`status`, or under the bridge's base topic).
 */
export type Action =
  | { readonly at: number; readonly client: string; readonly op: 'connect' | 'drop' | 'disconnect' }
  | {
      readonly at: number;
      readonly client: string;
      readonly op: 'publish';
      readonly topic: string;
      readonly payload: Buffer;
      readonly qos: Qos;
      readonly retain: boolean;
    };

export const TOPIC_ROOT = 'tryggheim/v1';
export const deviceTopic = (id: string, channel: 'up' | 'status' | 'down'): string => `${TOPIC_ROOT}/devices/${id}/${channel}`;
export const bridgeBase = (id: string): string => `${TOPIC_ROOT}/bridges/${id}`;
/** A client's connection-status topic (retained `online`/`offline`, and the will). Bridges use Zigbee2MQTT's. */
export const statusTopic = (id: string, kind: ClientKind): string =>
  kind === 'bridge' ? `${bridgeBase(id)}/bridge/state` : deviceTopic(id, 'status');

export type ClientKind = 'device' | 'bridge';

/** Device classes, as the gateway's registry knows them (`devices add --kind`). */
export type DeviceKind = 'dispenser' | 'lock' | 'sensor' | 'vitals' | 'bridge';

/** What a sensor senses; a multi-sensor has several roles. */
export type SensorRole = 'motion' | 'bed' | 'chair' | 'door-contact' | 'climate' | 'water-leak' | 'smoke' | 'fall' | 'panic' | 'light';

/** One simulated device (or hub) of a fleet, as the scenario expands it. Ids are opaque and synthetic. */
export interface DeviceSpec {
  /** MQTT client id / registry id, e.g. `sim-h003-lock-1`. Never a name or an address. */
  readonly id: string;
  /** The scenario's home id (`h003`): the registry home the device is assigned to when provisioned. */
  readonly home: string;
  readonly kind: DeviceKind;
  /** Vendor model string for the registry, e.g. `sim-dispenser-ev2`. */
  readonly model: string;
  readonly format: Format;
  readonly power: 'mains' | 'battery';
  /** Sensors only. */
  readonly roles?: readonly SensorRole[];
  /** Bridges only: the devices behind the hub, each reporting under the hub's topics by friendly name. */
  readonly children?: readonly ChildSpec[];
}

export interface ChildSpec {
  /** The registry device id of the child. */
  readonly id: string;
  /** Zigbee2MQTT friendly name: the IEEE address form `0x00158d…`, never a room or a person. */
  readonly friendlyName: string;
  readonly kind: Exclude<DeviceKind, 'bridge'>;
  readonly model: string;
  readonly roles?: readonly SensorRole[];
}

/** Scripted incidents (scenario files): what happens in one home, at a local time of a scenario day. */
export const INCIDENT_TYPES = [
  'dose-not-taken', // the dose is dispensed but not taken before the window ends (the device reports `missed`)
  'dose-not-dispensed',
  'dispenser-jam',
  'dispenser-empty',
  'door-left-open', // opens and stays open for `duration`
  'door-opened-at-night',
  'door-forced',
  'failed-attempts', // `count` failed unlock attempts
  'bed-exit-no-return', // out of bed, not back for `duration`
  'fall',
  'panic',
  'smoke',
  'water-leak',
  'no-motion', // no motion for `duration`
  'temperature-low', // the room cools below 16 °C for `duration`
  'vitals-out-of-range',
  'device-offline', // `device` (a kind, or a device id) goes silent for `duration`: connection dropped, will published
  'battery-low',
] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export interface Incident {
  readonly type: IncidentType;
  readonly home: string;
  /** Epoch ms (scenario loading resolves the file's local `HH:MM` on `day` in the scenario's time zone). */
  readonly at: number;
  readonly durationMs?: number;
  /** device-offline: which device — a kind (`dispenser`, `lock`, `bridge`, …) or a device id. */
  readonly device?: string;
  readonly count?: number;
}

/** What a device model gets: everything it may depend on. Pure: the same context gives the same actions. */
export interface DeviceContext {
  /** Scenario start and end, epoch ms. */
  readonly start: number;
  readonly end: number;
  /** IANA time zone of the homes (Europe/Oslo by default): schedules and night windows are local times. */
  readonly timeZone: string;
  /** This device's own deterministic random source (seeded from the scenario seed and the device id). */
  readonly rand: () => number;
  /** The incidents of this device's home (all of them: the model acts on those that concern it). */
  readonly incidents: readonly Incident[];
}

/**
 * A shared clock (virtual time in tests, scaled time in the demo, the real clock in the field). The player
 * drives it: before playing an action it waits until the clock shows the action's time. The gateway reads
 * the same clock in tests (`startGateway(config, { now: clock.now })`), so device time and gateway time agree.
 */
export interface Clock {
  now(): number;
  /** Resolves when the clock shows at least `at`. A virtual clock jumps there at once (firing due timers on the way). */
  waitUntil(at: number): Promise<void>;
  /** Calls `fn` once the clock shows `at` or later (for deadline timers that share the clock). */
  setTimer(at: number, fn: () => void): { cancel(): void };
}

/** Credentials of the clients a run connects as (a JSON file written by `tryggheim sim provision`). */
export interface Credentials {
  readonly [clientId: string]: { readonly secret: string };
}
