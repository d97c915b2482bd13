import { z } from 'zod';
import { DecodedEventSchema, type DecodedEvent } from './canonical.js';

// The adapter contract. An adapter is data plus a pure `decode`: no I/O, no clock, no randomness, and it
// never throws on bad input — it returns `{ ok: false, reason, issues }`. A throw is a bug; the gateway
// catches it per message, dead-letters the message as `adapter_bug`, and goes on.

export const DeviceClassSchema = z.enum(['dispenser', 'lock', 'sensor', 'vitals', 'bridge']);
export type DeviceClass = z.infer<typeof DeviceClassSchema>;

export interface AdapterInput {
  /** The payload bytes exactly as received. */
  readonly payload: Uint8Array;
  /**
   * For devices, the channel (`up`); for bridges, the topic below the bridge's base topic
   * (e.g. `bedroom-motion` or `bedroom-motion/availability`).
   */
  readonly subtopic: string;
  /** Gateway receive time (ISO-8601 UTC), for payloads without a time of their own. */
  readonly receivedAt: string;
}

export const DecodeFailureReasonSchema = z.enum([
  /** Not UTF-8, or not the syntax the format needs (JSON, CSV...). */
  'malformed',
  /** Well-formed but does not match the format's schema (wrong types, out of range, missing fields). */
  'invalid_payload',
  /** Valid, but a message type or code this adapter does not know. */
  'unsupported',
]);
export type DecodeFailureReason = z.infer<typeof DecodeFailureReasonSchema>;

/** A zod issue reduced to what a technician needs, serialisable as JSON. */
export interface DecodeIssue {
  readonly path: readonly (string | number)[];
  readonly code: string;
  readonly message: string;
}

export type DecodeResult =
  | { readonly ok: true; readonly events: readonly DecodedEvent[] }
  | { readonly ok: false; readonly reason: DecodeFailureReason; readonly issues: readonly DecodeIssue[] };

export interface Adapter {
  /** Stable id, referenced by devices in the registry (`devices add --adapter <id>`). */
  readonly id: string;
  /** Bumped whenever decoding changes; stored with every event and dead letter. */
  readonly version: number;
  readonly title: string;
  readonly deviceClasses: readonly DeviceClass[];
  decode(input: AdapterInput): DecodeResult;
}

// ── Helpers every adapter uses, so that the rules above hold the same way everywhere ────────────────────

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 text, or undefined for invalid byte sequences. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function fail(reason: DecodeFailureReason, message: string, path: readonly (string | number)[] = [], code = reason): DecodeResult {
  return { ok: false, reason, issues: [{ path, code, message }] };
}

export function fromZodError(error: z.ZodError, reason: DecodeFailureReason = 'invalid_payload'): DecodeResult {
  return {
    ok: false,
    reason,
    issues: error.issues
      .slice(0, 20)
      .map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), code: i.code, message: i.message })),
  };
}

/** Parses UTF-8 JSON; `malformed` for bad bytes or syntax. JSON.parse makes `__proto__` an own key, never a prototype. */
export function parseJson(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; result: DecodeResult } {
  const text = decodeUtf8(bytes);
  if (text === undefined) return { ok: false, result: fail('malformed', 'payload is not valid UTF-8') };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, result: fail('malformed', `payload is not JSON: ${(err as Error).message.slice(0, 120)}`) };
  }
}

/** Checks adapter output against the canonical schema; a mismatch is reported, never passed on. */
const DecodedEventsSchema = z.array(DecodedEventSchema).min(1);

export function ok(events: readonly DecodedEvent[]): DecodeResult {
  const parsed = DecodedEventsSchema.safeParse(events);
  return parsed.success ? { ok: true, events: parsed.data } : fromZodError(parsed.error);
}

/** Latest plausible device time: readings dated beyond this (or before 2000) are refused as invalid. */
export const EARLIEST_VALID_TIME = Date.parse('2000-01-01T00:00:00Z');
export const MAX_CLOCK_AHEAD_MS = 24 * 60 * 60 * 1000;

/** Normalises a device timestamp to ISO UTC, or explains why it is not plausible relative to receive time. */
export function deviceTime(ms: number, receivedAt: string): { ok: true; iso: string } | { ok: false; message: string } {
  if (!Number.isFinite(ms)) return { ok: false, message: 'timestamp is not a finite number' };
  if (ms < EARLIEST_VALID_TIME) return { ok: false, message: 'timestamp is before 2000-01-01' };
  if (ms > Date.parse(receivedAt) + MAX_CLOCK_AHEAD_MS) return { ok: false, message: 'timestamp is more than 24 h after the receive time' };
  return { ok: true, iso: new Date(ms).toISOString() };
}
