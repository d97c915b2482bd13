import type { SimEvent } from '../devices/events.js';
import type { ChildSpec, DeviceKind, DeviceSpec, Format, Qos } from '../types.js';

// The encoder contract shared by formats/*.ts. An encoder is what a real device's firmware does when it
// reports: (device, what happened at t, its message counter) → topic + payload bytes. Pure and
// deterministic: no clock, no randomness; the same message gives the same bytes.

/** One report a device (or a hub, about one of its children) sends. */
export interface SimMessage {
  /** Device time of the events, epoch ms: what the device's clock writes into the payload. */
  readonly at: number;
  /** The client's message counter for this message (formats that carry one: seq, cnt). */
  readonly counter: number;
  /** What happened, reported together in one message. */
  readonly events: readonly SimEvent[];
  /**
   * The device's current state before this message (merged measurement, standing alarms, lock and door
   * position, last status). Formats that republish their whole state with every message (Zigbee2MQTT,
   * json-lock) send it along; the others ignore it.
   */
  readonly state?: readonly SimEvent[];
  /** Bridges: the child the message is about (absent: about the hub itself). */
  readonly child?: ChildSpec;
}

export interface Encoded {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: Qos;
  readonly retain: boolean;
  /** How many counter values the message used (a native batch numbers each event); the next message starts after them. */
  readonly counters: number;
}

export interface Encoder {
  readonly format: Format;
  /** The device classes a real device of this format is (a bridge's children are sensors and locks). */
  readonly kinds: readonly DeviceKind[];
  /**
   * The message as the device would send it, or undefined when the format has no way to say any of
   * `events` (a SenML sensor has no alarm, a FHIR Observation no battery). Parts of an event the format has
   * no field for (a SenML sensor's firmware) are left out, as the real device would.
   */
  encode(spec: DeviceSpec, message: SimMessage): Encoded | undefined;
}

export const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
export const iso = (ms: number): string => new Date(ms).toISOString();
export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);

/** Copies only the defined entries, in the order given, so payload key order is fixed and no `undefined` leaks. */
export function defined(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) if (v !== undefined) out[k] = v;
  return out;
}

export const isEmpty = (o: object): boolean => Object.keys(o).length === 0;
