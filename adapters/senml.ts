import { z } from 'zod';
import { DeviceStatusSchema, SensorReadingsSchema, VitalReadingsSchema, type DecodedEvent, type EventBody } from './canonical.js';
import {
  deviceTime,
  fail,
  fromZodError,
  ok,
  parseJson,
  type Adapter,
  type AdapterInput,
  type DecodeIssue,
  type DecodeResult,
} from './contract.js';

// `senml` — SenML JSON packs (RFC 8428, units from RFC 8428 / RFC 8798), for sensors and vital-signs devices:
//
//   [{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1795420800,"n":"temperature","u":"Cel","v":21.5},
//    {"n":"humidity","u":"%RH","v":40,"t":-60}]
//
// Records are resolved as RFC 8428 §4.6 says (bn + n, bt + t, bu when no u, bv + v), then mapped by the last
// segment of the name ('/' or ':' separated; case, '-' and '_' ignored) and the unit. Records with the same
// resolved time become one event per family (measurement, vitals, status). A pack with any name this adapter
// does not know is refused whole as `unsupported` — nothing is silently dropped.

const SENML_VERSION = 10; // RFC 8428 §4.4: the default, and the only version understood here
const RELATIVE_LIMIT = 2 ** 28; // RFC 8428 §4.5.3: resolved times below this are relative to "now"
const MAX_RECORDS = 1000;
/** RFC 8428 §4.5.1: the resolved name's character set. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9:./_-]*$/;
const MAX_NAME = 256;
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The RFC 8428 JSON labels. Unknown labels are ignored (§4.4: "MUST ignore ... unless the key ends with _"),
 * so z.object strips them; labels ending in `_` are refused before this schema runs.
 */
const RecordSchema = z.object({
  bn: z.string().max(MAX_NAME).optional(),
  bt: z.number().optional(),
  bu: z.string().max(32).optional(),
  bv: z.number().optional(),
  bs: z.number().optional(),
  bver: z.number().int().min(1).optional(),
  n: z.string().max(MAX_NAME).optional(),
  u: z.string().max(32).optional(),
  v: z.number().optional(),
  vs: z.string().max(4096).optional(),
  vb: z.boolean().optional(),
  vd: z.string().max(4096).optional(),
  s: z.number().optional(),
  t: z.number().optional(),
  ut: z.number().optional(),
});
const PackSchema = z.array(RecordSchema).min(1).max(MAX_RECORDS);

type SenmlRecord = z.infer<typeof RecordSchema>;
type Family = 'measurement' | 'vitals' | 'status';
type Convert = (x: number) => number;

const same: Convert = (x) => x;
/** Conversions are rounded to 3 decimals so that e.g. 294.65 K is 21.5 °C, not 21.499999999999977. */
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const CELSIUS = { Cel: same, K: (x) => round3(x - 273.15) } satisfies Record<string, Convert>;

interface Quantity {
  field: string;
  family: Family;
  schema: z.ZodType;
  /** Accepted units → conversion to the canonical unit; absent for booleans (value `vb`, unit not checked). */
  units?: Record<string, Convert>;
}

const measure = (field: keyof typeof SensorReadingsSchema.shape, units?: Record<string, Convert>): Quantity => ({
  field,
  family: 'measurement',
  schema: SensorReadingsSchema.shape[field],
  ...(units ? { units } : {}),
});
const vital = (field: keyof typeof VitalReadingsSchema.shape, units: Record<string, Convert>): Quantity => ({
  field,
  family: 'vitals',
  schema: VitalReadingsSchema.shape[field],
  units,
});

/** Keyed by the normalised last name segment: lower case, without '-' and '_' (heartRate = heart_rate = heart-rate). */
const QUANTITIES: ReadonlyMap<string, Quantity> = new Map(
  Object.entries({
    temperature: measure('temperature_c', CELSIUS),
    humidity: measure('humidity_pct', { '%RH': same }),
    illuminance: measure('illuminance_lux', { lx: same }),
    lux: measure('illuminance_lux', { lx: same }),
    motion: measure('motion'),
    presence: measure('motion'),
    bed: measure('bed_occupied'),
    occupancy: measure('bed_occupied'),
    chair: measure('chair_occupied'),
    contact: measure('contact_open'),
    open: measure('contact_open'),
    battery: { field: 'battery_pct', family: 'status', schema: DeviceStatusSchema.shape.battery_pct, units: { '%EL': same } },
    heartrate: vital('heart_rate_bpm', { 'beat/min': same, '1/min': same }),
    pulse: vital('heart_rate_bpm', { 'beat/min': same, '1/min': same }),
    // "%" (RFC 8428, not recommended), "/100" (RFC 8798 secondary unit, = percent), "/" (a ratio 0–1).
    spo2: vital('spo2_pct', { '%': same, '/100': same, '/': (x) => round3(x * 100) }),
    oxygensaturation: vital('spo2_pct', { '%': same, '/100': same, '/': (x) => round3(x * 100) }),
    weight: vital('body_weight_kg', { kg: same, g: (x) => round3(x / 1000) }),
    mass: vital('body_weight_kg', { kg: same, g: (x) => round3(x / 1000) }),
    bodytemperature: vital('body_temperature_c', CELSIUS),
    // Not SenML-registered units; accepted as the units vital-signs devices use (UCUM writes mmol/L).
    glucose: vital('blood_glucose_mmol_l', { 'mmol/l': same, 'mmol/L': same }),
    systolic: vital('bp_systolic_mmhg', { mmHg: same }),
    diastolic: vital('bp_diastolic_mmhg', { mmHg: same }),
  }),
);

const lastSegment = (name: string) => name.split(/[/:]/).at(-1) ?? '';
const normalise = (segment: string) => segment.toLowerCase().replace(/[-_]/g, '');

interface Resolved {
  index: number;
  name: string;
  /** Resolved time in ms since the epoch, or undefined for "now" (no time in the pack: the receive time). */
  ms: number | undefined;
  unit: string | undefined;
  record: SenmlRecord;
  /** bv + v, when the record has `v`. */
  value: number | undefined;
}

/** Applies the base fields (RFC 8428 §4.5/§4.6). A record without any value or sum only sets base fields. */
function resolve(
  pack: readonly SenmlRecord[],
  receivedAt: string,
): { ok: true; records: Resolved[] } | { ok: false; result: DecodeResult } {
  let bn = '';
  let bt = 0;
  let btAt: (string | number)[] = [];
  let bu: string | undefined;
  let bv = 0;
  const records: Resolved[] = [];
  for (const [i, r] of pack.entries()) {
    if (r.bver !== undefined && r.bver !== SENML_VERSION) {
      return { ok: false, result: fail('unsupported', `SenML version ${r.bver} is not supported (only ${SENML_VERSION})`, [i, 'bver']) };
    }
    if (r.bn !== undefined) bn = r.bn;
    if (r.bt !== undefined) [bt, btAt] = [r.bt, [i, 'bt']];
    if (r.bu !== undefined) bu = r.bu;
    if (r.bv !== undefined) bv = r.bv;
    const values = [r.v, r.vs, r.vb, r.vd].filter((x) => x !== undefined).length;
    if (values > 1) return { ok: false, result: fail('invalid_payload', 'a record carries exactly one of v, vs, vb, vd', [i]) };
    if (values === 0 && r.s === undefined) {
      if (r.n !== undefined)
        return { ok: false, result: fail('invalid_payload', 'a named record needs a value (v, vs, vb, vd) or a sum (s)', [i]) };
      continue; // a record of base fields only
    }
    const name = bn + (r.n ?? '');
    if (name.length === 0 || name.length > MAX_NAME || !NAME.test(name)) {
      return {
        ok: false,
        result: fail('invalid_payload', `name must be 1–${MAX_NAME} characters of A–Z a–z 0–9 - : . / _, starting with a letter or digit`, [
          i,
          r.n !== undefined ? 'n' : 'bn',
        ]),
      };
    }
    const time = bt + (r.t ?? 0);
    // RFC 8428 §4.5.3: 0 is "now" (no time: the gateway dates it by the receive time); from 2^28 on, seconds
    // since the epoch; below that, seconds relative to now — here the receive time (adapters never read a clock).
    let ms: number | undefined;
    if (time !== 0) {
      const at = time >= RELATIVE_LIMIT ? Math.round(time * 1000) : Date.parse(receivedAt) + Math.round(time * 1000);
      const checked = deviceTime(at, receivedAt);
      if (!checked.ok) return { ok: false, result: fail('invalid_payload', checked.message, r.t !== undefined ? [i, 't'] : btAt) };
      ms = at;
    }
    records.push({ index: i, name, ms, unit: r.u ?? bu, record: r, value: r.v !== undefined ? bv + r.v : undefined });
  }
  if (records.length === 0) return { ok: false, result: fail('invalid_payload', 'the pack has no record with a value') };
  return { ok: true, records };
}

/** Unit and value for one known quantity, range-checked against the canonical field. */
function reading(q: Quantity, r: Resolved): { ok: true; value: number | boolean } | { ok: false; result: DecodeResult } {
  const i = r.index;
  if (q.units === undefined) {
    if (r.record.vb === undefined) return { ok: false, result: fail('invalid_payload', `${q.field} needs a boolean value (vb)`, [i]) };
    return { ok: true, value: r.record.vb };
  }
  if (r.value === undefined) return { ok: false, result: fail('invalid_payload', `${q.field} needs a numeric value (v)`, [i]) };
  const accepted = Object.keys(q.units);
  const convert = r.unit !== undefined && Object.hasOwn(q.units, r.unit) ? q.units[r.unit] : undefined;
  if (convert === undefined) {
    const got = r.unit === undefined ? 'no unit' : `unit "${r.unit.slice(0, 32)}"`;
    return {
      ok: false,
      result: fail('invalid_payload', `${q.field} needs unit ${accepted.join(' or ')}, got ${got}`, [
        i,
        r.record.u === undefined && r.unit !== undefined ? 'bu' : 'u',
      ]),
    };
  }
  const value = convert(r.value);
  const checked = q.schema.safeParse(value);
  if (!checked.success) return { ok: false, result: fail('invalid_payload', `${q.field} ${value} is out of range`, [i, 'v']) };
  return { ok: true, value };
}

function decode(input: AdapterInput): DecodeResult {
  const json = parseJson(input.payload);
  if (!json.ok) return json.result;
  if (!Array.isArray(json.value)) return fail('invalid_payload', 'a SenML pack is a JSON array of records');
  for (const [i, rec] of (json.value as unknown[]).entries()) {
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) continue; // the schema reports it
    for (const key of Object.keys(rec)) {
      if (FORBIDDEN_KEYS.has(key)) return fail('invalid_payload', `label "${key}" is not allowed`, [i, key]);
      // RFC 8428 §4.4: a label ending in '_' must be understood, or the pack refused.
      if (key.endsWith('_')) return fail('unsupported', `must-understand label "${key.slice(0, 32)}" is not supported`, [i, key]);
    }
  }
  const parsed = PackSchema.safeParse(json.value);
  if (!parsed.success) return fromZodError(parsed.error);
  const resolved = resolve(parsed.data, input.receivedAt);
  if (!resolved.ok) return resolved.result;

  const unknown: DecodeIssue[] = resolved.records
    .filter((r) => !QUANTITIES.has(normalise(lastSegment(r.name))))
    .map((r) => ({ path: [r.index, 'n'], code: 'unsupported', message: `unknown SenML name "${r.name}" (mapped by its last segment)` }));
  if (unknown.length > 0) return { ok: false, reason: 'unsupported', issues: unknown.slice(0, 20) };

  // One event per (family, resolved time), in order of first appearance.
  const groups = new Map<string, { family: Family; ms: number | undefined; values: Record<string, number | boolean> }>();
  for (const r of resolved.records) {
    const q = QUANTITIES.get(normalise(lastSegment(r.name)));
    if (q === undefined) continue; // unreachable: unknown names were refused above
    const got = reading(q, r);
    if (!got.ok) return got.result;
    const key = `${q.family}@${r.ms ?? 'now'}`;
    const group = groups.get(key) ?? { family: q.family, ms: r.ms, values: {} };
    groups.set(key, group);
    if (Object.hasOwn(group.values, q.field)) {
      return fail('invalid_payload', `two ${q.field} readings at the same time: one event cannot hold both`, [r.index]);
    }
    group.values[q.field] = got.value;
  }
  const events: DecodedEvent[] = [...groups.values()].map((g) => {
    const body = (g.family === 'status' ? { type: 'status', status: g.values } : { type: g.family, readings: g.values }) as EventBody;
    return { body, ...(g.ms !== undefined ? { observedAt: new Date(g.ms).toISOString() } : {}) };
  });
  return ok(events);
}

export const senmlAdapter = {
  id: 'senml',
  version: 1,
  title: 'SenML JSON (RFC 8428) measurement packs: home sensors and vital signs',
  deviceClasses: ['sensor', 'vitals'],
  decode,
} as const satisfies Adapter;
