import { z } from 'zod';
import type { DecodedEvent, EventBody, LockEvent } from './canonical.js';
import { deviceTime, fail, fromZodError, ok, parseJson, type Adapter, type DecodeResult } from './contract.js';

// `json-lock` — a vendor-style door lock (a fictional vendor, documented in adapters/README.md as a worked
// example of adding a vendor format). One message carries an optional lock event plus the lock's state:
//
//   {"lockEvent":{"type":"UNLOCK","source":"KEYPAD","userRef":"staff-tag-17","at":"2026-11-23T07:58:00Z"},"battery":77,"doorOpen":false}
//   {"battery":64}
//
// `userRef` is the lock's opaque credential reference (a tag or code slot id) and becomes `credentialRef`.

const LOCK_TYPES = {
  LOCK: 'locked',
  UNLOCK: 'unlocked',
  OPEN: 'opened',
  CLOSE: 'closed',
  LEFT_OPEN: 'left_open',
  JAMMED: 'jammed',
  FORCED: 'forced',
  WRONG_CODE: 'failed_attempt',
  WRONG_TAG: 'failed_attempt',
} as const satisfies Record<string, LockEvent['kind']>;

const LOCK_SOURCES = {
  KEY: 'key',
  KEYPAD: 'keypad',
  APP: 'app',
  RFID: 'rfid',
  AUTO: 'auto',
  /** The inside thumb-turn. */
  MANUAL: 'manual',
  UNKNOWN: 'unknown',
} as const satisfies Record<string, NonNullable<LockEvent['method']>>;

/** Shape only: whether a word is known is decided after parsing, so a new firmware's word is `unsupported`. */
const Word = z.string().regex(/^[A-Z][A-Z_]{0,31}$/);

function isKey<T extends object>(table: T, key: string): key is keyof T & string {
  return Object.hasOwn(table, key);
}

const LockMessageSchema = z
  .strictObject({
    lockEvent: z
      .strictObject({
        type: Word,
        source: Word.optional(),
        // Opaque tag or code-slot ids only: no spaces, so a person's name cannot pass as a reference.
        userRef: z
          .string()
          .regex(/^[A-Za-z0-9._:-]{1,64}$/)
          .optional(),
        at: z.iso.datetime({ offset: true }),
      })
      .optional(),
    battery: z.number().int().min(0).max(100).optional(),
    doorOpen: z.boolean().optional(),
  })
  .refine((m) => m.lockEvent !== undefined || m.battery !== undefined || m.doorOpen !== undefined, {
    message: 'a lock message needs lockEvent, battery or doorOpen',
  });

function decode(input: { payload: Uint8Array; receivedAt: string }): DecodeResult {
  const json = parseJson(input.payload);
  if (!json.ok) return json.result;
  const parsed = LockMessageSchema.safeParse(json.value);
  if (!parsed.success) return fromZodError(parsed.error);
  const { lockEvent, battery, doorOpen } = parsed.data;

  // The state fields are sent together with the event, so they share its time; alone, they are dated by the
  // gateway's receive time (the lock's state report carries no clock).
  let observedAt: string | undefined;
  const bodies: EventBody[] = [];
  if (lockEvent !== undefined) {
    const { type, source } = lockEvent;
    if (!isKey(LOCK_TYPES, type)) return fail('unsupported', `unknown lock event type ${type}`, ['lockEvent', 'type']);
    if (source !== undefined && !isKey(LOCK_SOURCES, source))
      return fail('unsupported', `unknown source ${source}`, ['lockEvent', 'source']);
    const t = deviceTime(Date.parse(lockEvent.at), input.receivedAt);
    if (!t.ok) return fail('invalid_payload', t.message, ['lockEvent', 'at']);
    observedAt = t.iso;
    bodies.push({
      type: 'lock',
      kind: LOCK_TYPES[type],
      ...(source !== undefined ? { method: LOCK_SOURCES[source] } : {}),
      ...(lockEvent.userRef !== undefined ? { credentialRef: lockEvent.userRef } : {}),
    });
  }
  if (doorOpen !== undefined) bodies.push({ type: 'measurement', readings: { contact_open: doorOpen } });
  if (battery !== undefined) bodies.push({ type: 'status', status: { battery_pct: battery } });
  const events: DecodedEvent[] = bodies.map((body) => ({ body, ...(observedAt !== undefined ? { observedAt } : {}) }));
  return ok(events);
}

export const jsonLockAdapter = {
  id: 'json-lock',
  version: 1,
  title: 'JSON door lock (vendor-style example)',
  deviceClasses: ['lock'],
  decode,
} as const satisfies Adapter;
