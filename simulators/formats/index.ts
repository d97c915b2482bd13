import type { SimEvent } from '../devices/events.js';
import type { DeviceKind, DeviceSpec, Format } from '../types.js';
import { csvDispenserEncoder } from './csv-dispenser.js';
import type { Encoded, Encoder, SimMessage } from './encoder.js';
import { evcodeDispenserEncoder } from './evcode-dispenser.js';
import { fhirObservationEncoder } from './fhir-observation.js';
import { jsonLockEncoder } from './json-lock.js';
import { senmlEncoder } from './senml.js';
import { tryggheimEncoder } from './tryggheim.js';
import { zigbee2mqttEncoder } from './zigbee2mqtt.js';

// The encoder catalogue: an explicit map by wire format (the adapter id the gateway knows it under), so a
// format without an encoder is a compile error, not a silent gap.

export type { Encoded, Encoder, SimMessage } from './encoder.js';

export const ENCODERS = {
  tryggheim: tryggheimEncoder,
  zigbee2mqtt: zigbee2mqttEncoder,
  senml: senmlEncoder,
  'fhir-observation': fhirObservationEncoder,
  'evcode-dispenser': evcodeDispenserEncoder,
  'csv-dispenser': csvDispenserEncoder,
  'json-lock': jsonLockEncoder,
} as const satisfies Record<Format, Encoder>;

export function encoderFor(format: Format): Encoder {
  return ENCODERS[format];
}

/** The message as a device of `spec.format` would send it, or undefined when the format cannot say any of it. */
export function encode(spec: DeviceSpec, message: SimMessage): Encoded | undefined {
  return ENCODERS[spec.format].encode(spec, message);
}

/** Whether a device of this spec can report the event at all (a SenML sensor cannot raise an alarm). */
export function carries(spec: DeviceSpec, event: SimEvent, child?: SimMessage['child']): boolean {
  return encode(spec, { at: 0, counter: 0, events: [event], ...(child !== undefined ? { child } : {}) }) !== undefined;
}

/** The formats a device class can speak (a Zigbee2MQTT hub's children are sensors and locks behind a bridge). */
export function formatsFor(kind: DeviceKind): Format[] {
  return Object.values(ENCODERS)
    .filter((e: Encoder) => e.kinds.includes(kind))
    .map((e) => e.format);
}
