import type { DecodedEvent, DoseEvent, EventBody } from './canonical.js';
import { decodeUtf8, deviceTime, fail, ok, type Adapter, type DecodeResult } from './contract.js';

// `csv-dispenser` — a vendor-style medication dispenser with a compact positional text format (a fictional
// vendor, documented in adapters/README.md as the worked example of a non-JSON format). One message is up
// to 50 records and a trailer, separated by LF:
//
//   D1;1795420931;TAKEN;08:00;1795420800;78
//   D1;1795420990;REFILL;;;77
//   END;2
//
// record  = "D1" ";" ts ";" status ";" slot ";" scheduled ";" battery      (exactly 6 fields)
// trailer = "END" ";" count                                                 (count = number of records)
//
// The trailer is what makes a cut-off message detectable: a prefix of a record can still be a well-formed
// record (`…;78` cut to `…;7`), and a message cut at a line break is a well-formed shorter message; but any
// proper prefix of a message lacks the trailer or carries a count that no longer matches.

const MAX_RECORDS = 50;
/** 50 records of at most 52 characters, LFs and the trailer fit well within this. */
const MAX_BYTES = 4096;
const FIELDS = ['version', 'ts', 'status', 'slot', 'scheduled', 'battery'] as const;

/** Status words; `BATTERY` is a battery report only (no dose event). */
const STATUS_WORDS = {
  DUE: 'due',
  DISPENSED: 'dispensed',
  TAKEN: 'taken',
  MISSED: 'missed',
  NOT_DISPENSED: 'not_dispensed',
  REFUSED: 'refused',
  EARLY: 'early',
  LATE: 'late',
  REFILL: 'refill_needed',
  EMPTY: 'empty',
  JAM: 'jam',
  TAMPER: 'tamper',
  POWER_OFF: 'power_lost',
  POWER_ON: 'power_restored',
  BATTERY: 'battery',
} as const satisfies Record<string, DoseEvent['kind'] | 'battery'>;

const EPOCH_SECONDS = /^[1-9]\d{0,11}$/;
const STATUS_WORD = /^[A-Z][A-Z_]{0,19}$/;
const SLOT = /^([01]\d|2[0-3]):[0-5]\d$/;
const BATTERY = /^(100|[1-9]?\d)$/;
const COUNT = /^[1-9]\d?$/;
/** Printable ASCII and LF only: no CR, tabs, NUL or non-ASCII, so what a technician sees is what was parsed. */
const CHARSET = /^[\x20-\x7e\n]*$/;

function isStatusWord(w: string): w is keyof typeof STATUS_WORDS {
  return Object.hasOwn(STATUS_WORDS, w);
}

type LineResult = { ok: true; bodies: EventBody[]; observedAt: string } | { ok: false; result: DecodeResult };

function decodeRecord(fields: string[], line: number, receivedAt: string): LineResult {
  const bad = (field: (typeof FIELDS)[number], message: string): LineResult => ({
    ok: false,
    result: fail('invalid_payload', `line ${line}, ${field}: ${message}`, ['line', line, field]),
  });
  const [, ts = '', word = '', slot = '', scheduled = '', battery = ''] = fields;

  if (!EPOCH_SECONDS.test(ts)) return bad('ts', 'expected epoch seconds');
  const at = deviceTime(Number(ts) * 1000, receivedAt);
  if (!at.ok) return bad('ts', at.message);
  if (!STATUS_WORD.test(word)) return bad('status', 'expected an upper-case status word');
  if (!isStatusWord(word)) {
    return { ok: false, result: fail('unsupported', `line ${line}: unknown status word ${word}`, ['line', line, 'status']) };
  }
  if (slot !== '' && !SLOT.test(slot)) return bad('slot', 'expected HH:MM or empty');
  let scheduledAt: string | undefined;
  if (scheduled !== '') {
    if (!EPOCH_SECONDS.test(scheduled)) return bad('scheduled', 'expected epoch seconds or empty');
    const due = deviceTime(Number(scheduled) * 1000, receivedAt);
    if (!due.ok) return bad('scheduled', due.message);
    scheduledAt = due.iso;
  }
  if (battery !== '' && !BATTERY.test(battery)) return bad('battery', 'expected 0–100 or empty');

  const kind = STATUS_WORDS[word];
  const bodies: EventBody[] = [];
  if (kind === 'battery') {
    // A battery report carries no dose; a slot or scheduled time on it would be silently lost, so it is refused.
    if (slot !== '') return bad('slot', 'a BATTERY record has no slot');
    if (scheduledAt !== undefined) return bad('scheduled', 'a BATTERY record has no scheduled time');
    if (battery === '') return bad('battery', 'a BATTERY record needs the battery level');
  } else {
    bodies.push({ type: 'dose', kind, ...(slot !== '' ? { slot } : {}), ...(scheduledAt !== undefined ? { scheduledAt } : {}) });
  }
  if (battery !== '') bodies.push({ type: 'status', status: { battery_pct: Number(battery) } });
  return { ok: true, bodies, observedAt: at.iso };
}

function decode(input: { payload: Uint8Array; receivedAt: string }): DecodeResult {
  const text = decodeUtf8(input.payload);
  if (text === undefined) return fail('malformed', 'payload is not valid UTF-8');
  if (input.payload.length > MAX_BYTES) return fail('invalid_payload', `payload is larger than ${MAX_BYTES} bytes`);
  if (text === '') return fail('malformed', 'payload is empty');
  if (!CHARSET.test(text)) return fail('malformed', 'payload has characters other than printable ASCII and LF');

  const lines = text.split('\n');
  if (lines.length > MAX_RECORDS + 1) return fail('invalid_payload', `at most ${MAX_RECORDS} records and a trailer`, ['line']);

  // The trailer first: a cut-off message is reported as such, not as a bad field in its last record.
  const last = lines.length;
  const trailer = (lines[last - 1] ?? '').split(';');
  if (trailer[0] !== 'END' || trailer.length !== 2) {
    return fail('malformed', `line ${last}: the message must end with the trailer END;<count> (cut off?)`, ['line', last]);
  }
  const count = trailer[1] ?? '';
  if (!COUNT.test(count) || Number(count) !== last - 1) {
    return fail('invalid_payload', `line ${last}: the trailer's count does not match the ${last - 1} records`, ['line', last, 'count']);
  }

  const events: DecodedEvent[] = [];
  for (const [i, content] of lines.slice(0, -1).entries()) {
    const line = i + 1;
    const fields = content.split(';');
    const version = fields[0] ?? '';
    if (version !== 'D1') {
      if (/^D\d{1,3}$/.test(version))
        return fail('unsupported', `line ${line}: record version ${version} is not supported`, ['line', line, 'version']);
      return fail('malformed', `line ${line}: expected a D1 record`, ['line', line, 'version']);
    }
    if (fields.length !== FIELDS.length)
      return fail('invalid_payload', `line ${line}: a D1 record has ${FIELDS.length} fields`, ['line', line]);
    const decoded = decodeRecord(fields, line, input.receivedAt);
    if (!decoded.ok) return decoded.result;
    for (const body of decoded.bodies) events.push({ body, observedAt: decoded.observedAt });
  }
  return ok(events);
}

export const csvDispenserAdapter = {
  id: 'csv-dispenser',
  version: 1,
  title: 'Positional text (CSV-style) medication dispenser (vendor-style example)',
  deviceClasses: ['dispenser'],
  decode,
} as const satisfies Adapter;
