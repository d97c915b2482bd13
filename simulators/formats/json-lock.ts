import type { LockKind, LockMethod, LockSimEvent, SimEvent, StatusSimEvent } from '../devices/events.js';
import { deviceTopic } from '../types.js';
import { defined, iso, json, type Encoder } from './encoder.js';

// `json-lock` — the vendor-style door lock (adapters/README.md § json-lock). Every message carries the
// lock's state (`battery`, `doorOpen`) and, when something happened, one `lockEvent` with its own time:
//   {"lockEvent":{"type":"UNLOCK","source":"RFID","userRef":"tag-0042","at":"…"},"battery":77,"doorOpen":false}
//   {"battery":77,"doorOpen":false}      the periodic state report (no clock: dated by the gateway)

const TYPES = {
  locked: 'LOCK',
  unlocked: 'UNLOCK',
  opened: 'OPEN',
  closed: 'CLOSE',
  left_open: 'LEFT_OPEN',
  jammed: 'JAMMED',
  forced: 'FORCED',
  failed_attempt: 'WRONG_CODE', // WRONG_TAG for RFID, below
} as const satisfies Record<LockKind, string>;

const SOURCES = {
  key: 'KEY',
  keypad: 'KEYPAD',
  app: 'APP',
  rfid: 'RFID',
  auto: 'AUTO',
  manual: 'MANUAL',
  unknown: 'UNKNOWN',
} as const satisfies Record<LockMethod, string>;

/** The lock's opaque reference rule: no spaces, so a person's name cannot pass as one. */
const USER_REF = /^[A-Za-z0-9._:-]{1,64}$/;

function doorOpenAfter(events: readonly SimEvent[], before: boolean | undefined): boolean | undefined {
  let open = before;
  for (const e of events) {
    if (e.type === 'measurement' && e.readings.doorOpen !== undefined) open = e.readings.doorOpen;
    if (e.type === 'lock' && (e.kind === 'opened' || e.kind === 'forced' || e.kind === 'left_open')) open = true;
    if (e.type === 'lock' && e.kind === 'closed') open = false;
  }
  return open;
}

function batteryOf(events: readonly SimEvent[]): number | undefined {
  const s = events.filter((e): e is StatusSimEvent => e.type === 'status' && e.batteryPct !== undefined).at(-1);
  return s?.batteryPct !== undefined ? Math.round(s.batteryPct) : undefined;
}

export const jsonLockEncoder: Encoder = {
  format: 'json-lock',
  kinds: ['lock'],
  encode(spec, message) {
    const locks = message.events.filter((e): e is LockSimEvent => e.type === 'lock');
    if (locks.length > 1) return undefined; // one lockEvent per message
    const lock = locks[0];
    const ownBattery = batteryOf(message.events);
    const ownDoor = doorOpenAfter(message.events, undefined);
    if (lock === undefined && ownBattery === undefined && ownDoor === undefined) return undefined;
    const state = message.state ?? [];
    const lockEvent =
      lock === undefined
        ? undefined
        : defined([
            ['type', lock.kind === 'failed_attempt' && lock.method === 'rfid' ? 'WRONG_TAG' : TYPES[lock.kind]],
            ['source', lock.method !== undefined ? SOURCES[lock.method] : undefined],
            ['userRef', lock.credentialRef !== undefined && USER_REF.test(lock.credentialRef) ? lock.credentialRef : undefined],
            ['at', iso(message.at)],
          ]);
    const payload = defined([
      ['lockEvent', lockEvent],
      ['battery', ownBattery ?? batteryOf(state)],
      ['doorOpen', doorOpenAfter(message.events, doorOpenAfter(state, undefined))],
    ]);
    return { topic: deviceTopic(spec.id, 'up'), payload: json(payload), qos: 1, retain: false, counters: 1 };
  },
};
