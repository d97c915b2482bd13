import { z } from 'zod';
import type { DecodedEvent, DoseEvent, EventBody } from './canonical.js';
import { deviceTime, fail, fromZodError, ok, parseJson, type Adapter, type DecodeResult } from './contract.js';

// `evcode-dispenser` — a vendor-style medication dispenser that reports numbered event codes in compact JSON
// (a fictional vendor, documented in adapters/README.md as the worked example of adding a vendor format):
//
//   {"sn":"DSP-00417","ev":"E21","ts":1795420931,"slot":3,"due":1795420800,"bat":78,"fw":"2.1.0","cnt":1042}
//
// Times are epoch SECONDS. `cnt` is the dispenser's uint32 message counter (→ seq). `sn` is checked for shape
// only: the device's identity comes from its MQTT login, and a pure decoder cannot know which serial the
// registry expects, so `sn` is never trusted and never copied into events.

/** The vendor's event-code table. `status` is the heartbeat: battery and firmware only, no dose event. */
const EVENT_CODES = {
  E10: 'due',
  E20: 'dispensed',
  E21: 'taken',
  E22: 'missed',
  E23: 'not_dispensed',
  E24: 'refused',
  E25: 'early',
  E26: 'late',
  E30: 'refill_needed',
  E31: 'empty',
  E40: 'jam',
  E41: 'tamper',
  E50: 'power_lost',
  E51: 'power_restored',
  E90: 'status',
} as const satisfies Record<string, DoseEvent['kind'] | 'status'>;

const EpochSeconds = z.number().int().min(0);

const VendorMessageSchema = z.strictObject({
  sn: z.string().regex(/^[A-Za-z0-9-]{4,32}$/),
  /** Shape only; whether the code is known is decided after parsing, so an unknown code is `unsupported`. */
  ev: z.string().regex(/^E\d{2}$/),
  ts: EpochSeconds,
  /** Carousel position, 1-based. */
  slot: z.number().int().min(1).max(99).optional(),
  due: EpochSeconds.optional(),
  bat: z.number().int().min(0).max(100).optional(),
  fw: z
    .string()
    .regex(/^\d{1,3}\.\d{1,3}\.\d{1,3}$/)
    .optional(),
  cnt: z.number().int().min(0).max(0xffff_ffff),
});

type VendorMessage = z.infer<typeof VendorMessageSchema>;

function isKnownCode(ev: string): ev is keyof typeof EVENT_CODES {
  return Object.hasOwn(EVENT_CODES, ev);
}

function statusBody(m: VendorMessage): EventBody | undefined {
  if (m.bat === undefined && m.fw === undefined) return undefined;
  return {
    type: 'status',
    status: { ...(m.bat !== undefined ? { battery_pct: m.bat } : {}), ...(m.fw !== undefined ? { firmware: m.fw } : {}) },
  };
}

function decode(input: { payload: Uint8Array; receivedAt: string }): DecodeResult {
  const json = parseJson(input.payload);
  if (!json.ok) return json.result;
  const parsed = VendorMessageSchema.safeParse(json.value);
  if (!parsed.success) return fromZodError(parsed.error);
  const m = parsed.data;
  if (!isKnownCode(m.ev)) return fail('unsupported', `unknown event code ${m.ev}`, ['ev']);
  const kind = EVENT_CODES[m.ev];

  const at = deviceTime(m.ts * 1000, input.receivedAt);
  if (!at.ok) return fail('invalid_payload', at.message, ['ts']);
  let scheduledAt: string | undefined;
  if (m.due !== undefined) {
    const due = deviceTime(m.due * 1000, input.receivedAt);
    if (!due.ok) return fail('invalid_payload', due.message, ['due']);
    scheduledAt = due.iso;
  }

  const status = statusBody(m);
  const bodies: EventBody[] = [];
  if (kind === 'status') {
    // A heartbeat carries no dose; a slot or due time on it would be silently lost, so it is refused.
    if (m.slot !== undefined) return fail('invalid_payload', 'the status heartbeat (E90) carries no slot', ['slot']);
    if (m.due !== undefined) return fail('invalid_payload', 'the status heartbeat (E90) carries no due time', ['due']);
    if (status === undefined) return fail('invalid_payload', 'the status heartbeat (E90) needs bat or fw', []);
  } else {
    bodies.push({
      type: 'dose',
      kind,
      ...(m.slot !== undefined ? { slot: String(m.slot) } : {}),
      ...(scheduledAt !== undefined ? { scheduledAt } : {}),
    });
  }
  if (status !== undefined) bodies.push(status);
  // Every event from one message carries the message's counter: a gap in `cnt` is a lost message.
  const events: DecodedEvent[] = bodies.map((body) => ({ body, observedAt: at.iso, seq: m.cnt }));
  return ok(events);
}

export const evcodeDispenserAdapter = {
  id: 'evcode-dispenser',
  version: 1,
  title: 'Event-code JSON medication dispenser (vendor-style example)',
  deviceClasses: ['dispenser'],
  decode,
} as const satisfies Adapter;
