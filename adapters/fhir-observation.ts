import { z } from 'zod';
import { VitalReadingsSchema, type DecodedEvent } from './canonical.js';
import { deviceTime, fail, fromZodError, ok, parseJson, type Adapter, type DecodeIssue, type DecodeResult } from './contract.js';

// `fhir-observation` — FHIR R4 Observation resources for vital signs (http://hl7.org/fhir/R4/observation.html,
// vital-signs profile), one Observation or a Bundle of them, identified by LOINC code with UCUM units:
//
//   {"resourceType":"Observation","status":"final",
//    "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
//    "effectiveDateTime":"2026-11-23T07:55:00+01:00",
//    "valueQuantity":{"value":72,"unit":"beats/min","system":"http://unitsofmeasure.org","code":"/min"}}
//
// FHIR is open-ended, so unlike the vendor formats this adapter ignores elements it does not know. It still
// type-checks the Observation elements it knows (a malformed resource is refused even where the adapter does
// not read the element), and it never copies subject, performer, identifier or narrative into an event: the
// device → home assignment comes from the registry, not from the payload.

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

type Reading = keyof z.infer<typeof VitalReadingsSchema>;

/** LOINC code → canonical reading. 85354-9 (the blood pressure panel) carries its values in components. */
const LOINC_CODES = {
  '8867-4': 'heart_rate_bpm',
  '59408-5': 'spo2_pct',
  '2708-6': 'spo2_pct',
  '8480-6': 'bp_systolic_mmhg',
  '8462-4': 'bp_diastolic_mmhg',
  '85354-9': 'bp_panel',
  '29463-7': 'body_weight_kg',
  '8310-5': 'body_temperature_c',
  '2339-0': 'blood_glucose_mmol_l',
  '15074-8': 'blood_glucose_mmol_l',
} as const satisfies Record<string, Reading | 'bp_panel'>;

const same = (v: number): number => v;
/** Converted values keep a precision finer than any home device resolves, without binary-fraction noise. */
const round = (v: number, decimals: number): number => Math.round(v * 10 ** decimals) / 10 ** decimals;

/** Accepted UCUM codes per reading, with the conversion to the canonical unit. Anything else is refused. */
const UNITS: Record<Reading, Readonly<Record<string, (v: number) => number>>> = {
  heart_rate_bpm: { '/min': same, '{beats}/min': same },
  spo2_pct: { '%': same },
  bp_systolic_mmhg: { 'mm[Hg]': same },
  bp_diastolic_mmhg: { 'mm[Hg]': same },
  // The avoirdupois pound is exactly 0.45359237 kg (UCUM [lb_av]).
  body_weight_kg: { kg: same, g: (v) => round(v / 1000, 3), '[lb_av]': (v) => round(v * 0.45359237, 3) },
  body_temperature_c: { Cel: same, '[degF]': (v) => round(((v - 32) * 5) / 9, 2) },
  // 1 mmol/L of glucose (molar mass 180.156 g/mol) is 18.0156 mg/dL.
  blood_glucose_mmol_l: { 'mmol/L': same, 'mg/dL': (v) => round(v / 18.0156, 2) },
};

/** Results that are (or may become) valid; `registered`, `cancelled`, `entered-in-error`, `unknown` are not. */
const ACCEPTED_STATUS = new Set(['preliminary', 'final', 'amended', 'corrected']);

// ── Generic guards: FHIR JSON has no nulls and no empty objects or arrays (R4 json.html) ────────────────
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 32;
const MAX_NODES = 20_000;
const MAX_STRING = 8192;

function guard(root: unknown): DecodeIssue | undefined {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: root, path: [] }];
  let nodes = 1;
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, path } = item;
    // Counted before children are queued, so a huge array is refused without walking it.
    const children = typeof v === 'object' && v !== null ? Object.keys(v).length : 0;
    nodes += children;
    if (nodes > MAX_NODES) return { path, code: 'too_big', message: `more than ${MAX_NODES} JSON values` };
    if (path.length > MAX_DEPTH) return { path, code: 'too_deep', message: `nested deeper than ${MAX_DEPTH}` };
    if (v === null) return { path, code: 'invalid_type', message: 'FHIR JSON has no null values' };
    if (typeof v === 'string') {
      if (v.length === 0 || v.length > MAX_STRING) return { path, code: 'too_big', message: `strings are 1 to ${MAX_STRING} characters` };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path, code: 'invalid_type', message: 'number is not finite' };
    } else if (Array.isArray(v)) {
      if (v.length === 0) return { path, code: 'too_small', message: 'FHIR JSON has no empty arrays' };
      v.forEach((x: unknown, i) => stack.push({ v: x, path: [...path, i] }));
    } else if (typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 0) return { path, code: 'too_small', message: 'FHIR JSON has no empty objects' };
      for (const [k, x] of entries) {
        if (FORBIDDEN_KEYS.has(k)) return { path: [...path, k], code: 'forbidden_key', message: `key ${k} is not allowed` };
        stack.push({ v: x, path: [...path, k] });
      }
    }
  }
  return undefined;
}

// ── The FHIR elements this adapter knows; other elements are ignored ────────────────────────────────────
const Str = z.string();
const Coding = z.object({
  system: Str.optional(),
  version: Str.optional(),
  code: Str.optional(),
  display: Str.optional(),
  userSelected: z.boolean().optional(),
});
const CodeableConcept = z.object({ coding: z.array(Coding).optional(), text: Str.optional() });
const Quantity = z.object({
  value: z.number(),
  comparator: z.enum(['<', '<=', '>=', '>']).optional(),
  unit: Str.optional(),
  system: Str.optional(),
  code: Str.optional(),
});
const Identifier = z.object({ use: Str.optional(), system: Str.optional(), value: Str.optional() });
const Reference = z.object({ reference: Str.optional(), type: Str.optional(), identifier: Identifier.optional(), display: Str.optional() });
/** FHIR dateTime may be a bare date; a vital sign needs the full time with an offset. */
const DateTime = z.iso.datetime({ offset: true });

const ComponentSchema = z.object({
  code: CodeableConcept,
  valueQuantity: Quantity.optional(),
  dataAbsentReason: CodeableConcept.optional(),
});

const ObservationSchema = z.object({
  resourceType: z.literal('Observation'),
  id: z
    .string()
    .regex(/^[A-Za-z0-9\-.]{1,64}$/)
    .optional(),
  meta: z
    .object({
      versionId: Str.optional(),
      lastUpdated: Str.optional(),
      source: Str.optional(),
      profile: z.array(Str).optional(),
      tag: z.array(Coding).optional(),
    })
    .optional(),
  text: z.object({ status: Str, div: Str }).optional(),
  identifier: z.array(Identifier).optional(),
  status: z.enum(['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown']),
  category: z.array(CodeableConcept).optional(),
  code: CodeableConcept,
  subject: Reference.optional(),
  effectiveDateTime: DateTime.optional(),
  effectiveInstant: DateTime.optional(),
  effectivePeriod: z.object({ start: DateTime.optional(), end: DateTime.optional() }).optional(),
  issued: Str.optional(),
  performer: z.array(Reference).optional(),
  device: Reference.optional(),
  valueQuantity: Quantity.optional(),
  dataAbsentReason: CodeableConcept.optional(),
  component: z.array(ComponentSchema).max(10).optional(),
});

const BUNDLE_TYPES = [
  'document',
  'message',
  'transaction',
  'transaction-response',
  'batch',
  'batch-response',
  'history',
  'searchset',
  'collection',
] as const;

/** The bundle's own shape; each entry's resource is checked as an Observation once its resourceType is known. */
const BundleSchema = z.object({
  resourceType: z.literal('Bundle'),
  id: Str.optional(),
  type: z.enum(BUNDLE_TYPES),
  timestamp: Str.optional(),
  entry: z
    .array(
      z.object({
        fullUrl: Str.optional(),
        resource: z.looseObject({ resourceType: Str }),
        request: z.object({ method: Str, url: Str }).optional(),
      }),
    )
    .min(1)
    .max(100),
});

type Observation = z.infer<typeof ObservationSchema>;
type Path = (string | number)[];
type Step<T> = { ok: true; value: T } | { ok: false; result: DecodeResult };

const refuse = (reason: 'invalid_payload' | 'unsupported', message: string, path: Path): { ok: false; result: DecodeResult } => ({
  ok: false,
  result: fail(reason, message, path),
});

/** The one reading (or the BP panel) a CodeableConcept names by LOINC; other code systems are ignored. */
function resolveCode(code: z.infer<typeof CodeableConcept>, path: Path): Step<Reading | 'bp_panel'> {
  const loinc = (code.coding ?? []).filter((c) => c.system === LOINC && c.code !== undefined).map((c) => c.code ?? '');
  const known = new Set(loinc.filter((c) => Object.hasOwn(LOINC_CODES, c)).map((c) => LOINC_CODES[c as keyof typeof LOINC_CODES]));
  const [target, ...others] = known;
  if (target === undefined) {
    const shown = loinc.filter((c) => /^\d{1,7}-\d$/.test(c)).slice(0, 3);
    return refuse('unsupported', `no supported LOINC code${shown.length > 0 ? ` (got ${shown.join(', ')})` : ''}`, path);
  }
  if (others.length > 0) return refuse('invalid_payload', 'LOINC codings name different vital signs', path);
  return { ok: true, value: target };
}

/** A UCUM quantity in the canonical unit, range-checked by the canonical schema (out of range is refused). */
function convert(q: z.infer<typeof Quantity>, reading: Reading, path: Path): Step<number> {
  if (q.comparator !== undefined)
    return refuse('unsupported', 'a value with a comparator (<, >) cannot be stored as a reading', [...path, 'comparator']);
  if (q.system !== UCUM) return refuse('invalid_payload', `units must be UCUM (system ${UCUM})`, [...path, 'system']);
  const units = UNITS[reading];
  const unit = q.code ?? '';
  const toCanonical = Object.hasOwn(units, unit) ? units[unit] : undefined;
  if (toCanonical === undefined) {
    return refuse('invalid_payload', `${reading} needs UCUM ${Object.keys(units).join(' or ')}`, [...path, 'code']);
  }
  const value = toCanonical(q.value);
  if (!VitalReadingsSchema.shape[reading].safeParse(value).success)
    return refuse('invalid_payload', `${reading} out of range`, [...path, 'value']);
  return { ok: true, value };
}

/** A value is required, except that FHIR's explicit "no value" (dataAbsentReason) is valid but unsupported. */
function quantityOf(
  e: { valueQuantity?: z.infer<typeof Quantity> | undefined; dataAbsentReason?: unknown },
  path: Path,
): Step<z.infer<typeof Quantity>> {
  if (e.valueQuantity !== undefined) return { ok: true, value: e.valueQuantity };
  if (e.dataAbsentReason !== undefined) return refuse('unsupported', 'no value (dataAbsentReason)', [...path, 'dataAbsentReason']);
  return refuse('invalid_payload', 'a vital sign needs valueQuantity', [...path, 'valueQuantity']);
}

interface Value {
  reading: Reading;
  value: number;
  path: Path;
}

function effectiveTime(o: Observation, path: Path, receivedAt: string): Step<string> {
  const given = (['effectiveDateTime', 'effectiveInstant', 'effectivePeriod'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) return refuse('invalid_payload', 'only one effective[x] is allowed', [...path, given[1] ?? 'effectiveDateTime']);
  const [time, at] =
    o.effectiveDateTime !== undefined
      ? [o.effectiveDateTime, [...path, 'effectiveDateTime']]
      : o.effectiveInstant !== undefined
        ? [o.effectiveInstant, [...path, 'effectiveInstant']]
        : [o.effectivePeriod?.start, [...path, 'effectivePeriod', 'start']];
  if (time === undefined)
    return refuse('invalid_payload', 'a vital sign needs effectiveDateTime, effectiveInstant or effectivePeriod.start', at);
  const t = deviceTime(Date.parse(time), receivedAt);
  if (!t.ok) return refuse('invalid_payload', t.message, at);
  // The period's end is not stored, but an implausible or inverted period says the device clock is wrong (per-1).
  const end = o.effectivePeriod?.end;
  if (end !== undefined) {
    const e = deviceTime(Date.parse(end), receivedAt);
    const endPath = [...path, 'effectivePeriod', 'end'];
    if (!e.ok) return refuse('invalid_payload', e.message, endPath);
    if (e.iso < t.iso) return refuse('invalid_payload', 'the period ends before it starts', endPath);
  }
  return { ok: true, value: t.iso };
}

function readObservation(o: Observation, path: Path, receivedAt: string): Step<{ at: string; values: Value[] }> {
  // entered-in-error retracts an earlier result and cancelled never produced one; the canonical model has no
  // retraction, so these go to the dead letters for a person to see rather than being stored as values.
  if (!ACCEPTED_STATUS.has(o.status)) return refuse('unsupported', `status ${o.status} is not a result to store`, [...path, 'status']);
  const target = resolveCode(o.code, [...path, 'code']);
  if (!target.ok) return target;
  const at = effectiveTime(o, path, receivedAt);
  if (!at.ok) return at;

  const values: Value[] = [];
  if (target.value === 'bp_panel') {
    if (o.valueQuantity !== undefined)
      return refuse('invalid_payload', 'the blood pressure panel carries its values in components', [...path, 'valueQuantity']);
    if (o.component === undefined) {
      if (o.dataAbsentReason !== undefined) return refuse('unsupported', 'no value (dataAbsentReason)', [...path, 'dataAbsentReason']);
      return refuse('invalid_payload', 'the blood pressure panel needs components 8480-6 and/or 8462-4', [...path, 'component']);
    }
    for (const [i, c] of o.component.entries()) {
      const cPath = [...path, 'component', i];
      const reading = resolveCode(c.code, [...cPath, 'code']);
      if (!reading.ok) return reading;
      if (reading.value !== 'bp_systolic_mmhg' && reading.value !== 'bp_diastolic_mmhg') {
        return refuse('unsupported', 'the blood pressure panel is read for 8480-6 and 8462-4 only', [...cPath, 'code']);
      }
      const q = quantityOf(c, cPath);
      if (!q.ok) return q;
      const v = convert(q.value, reading.value, [...cPath, 'valueQuantity']);
      if (!v.ok) return v;
      values.push({ reading: reading.value, value: v.value, path: [...cPath, 'valueQuantity', 'value'] });
    }
  } else {
    if (o.component !== undefined)
      return refuse('unsupported', 'components are read on the blood pressure panel only', [...path, 'component']);
    const q = quantityOf(o, path);
    if (!q.ok) return q;
    const v = convert(q.value, target.value, [...path, 'valueQuantity']);
    if (!v.ok) return v;
    values.push({ reading: target.value, value: v.value, path: [...path, 'valueQuantity', 'value'] });
  }
  return { ok: true, value: { at: at.value, values } };
}

/** Parses one resource as an Observation, with issue paths from the payload's root. */
function parseObservation(resource: unknown, path: Path): Step<Observation> {
  const parsed = ObservationSchema.safeParse(resource);
  if (parsed.success) return { ok: true, value: parsed.data };
  const result = fromZodError(parsed.error);
  return {
    ok: false,
    result: result.ok ? result : { ...result, issues: result.issues.map((i) => ({ ...i, path: [...path, ...i.path] })) },
  };
}

/** The Observations of the payload with their paths, or why the payload is refused. */
function observations(value: unknown): Step<{ o: Observation; path: Path }[]> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return refuse('invalid_payload', 'expected a FHIR resource (JSON object)', []);
  const resourceType: unknown = (value as Record<string, unknown>).resourceType;
  if (typeof resourceType !== 'string') return refuse('invalid_payload', 'resourceType is required', ['resourceType']);
  if (resourceType === 'Observation') {
    const o = parseObservation(value, []);
    return o.ok ? { ok: true, value: [{ o: o.value, path: [] }] } : o;
  }
  if (resourceType !== 'Bundle') return refuse('unsupported', 'expected an Observation or a Bundle', ['resourceType']);

  const bundle = BundleSchema.safeParse(value);
  if (!bundle.success) return { ok: false, result: fromZodError(bundle.error) };
  // A bundle is decoded whole or refused whole: a Patient or Device entry is not silently dropped.
  const other = bundle.data.entry.findIndex((e) => e.resource.resourceType !== 'Observation');
  if (other >= 0) return refuse('unsupported', 'a Bundle may contain Observations only', ['entry', other, 'resource', 'resourceType']);
  const list: { o: Observation; path: Path }[] = [];
  for (const [i, e] of bundle.data.entry.entries()) {
    const path = ['entry', i, 'resource'];
    const o = parseObservation(e.resource, path);
    if (!o.ok) return o;
    list.push({ o: o.value, path });
  }
  return { ok: true, value: list };
}

function decode(input: { payload: Uint8Array; receivedAt: string }): DecodeResult {
  const json = parseJson(input.payload);
  if (!json.ok) return json.result;
  const issue = guard(json.value);
  if (issue !== undefined) return { ok: false, reason: 'invalid_payload', issues: [issue] };
  const list = observations(json.value);
  if (!list.ok) return list.result;

  // Values with the same effective time become one vitals event (a BP panel and the pulse taken with it).
  const byTime = new Map<string, Partial<Record<Reading, number>>>();
  for (const { o, path } of list.value) {
    const read = readObservation(o, path, input.receivedAt);
    if (!read.ok) return read.result;
    const readings = byTime.get(read.value.at) ?? {};
    for (const { reading, value, path: valuePath } of read.value.values) {
      if (readings[reading] !== undefined) return fail('invalid_payload', `a second ${reading} at the same effective time`, valuePath);
      readings[reading] = value;
    }
    byTime.set(read.value.at, readings);
  }
  const events: DecodedEvent[] = [...byTime].map(([observedAt, readings]) => ({ body: { type: 'vitals', readings }, observedAt }));
  return ok(events);
}

export const fhirObservationAdapter = {
  id: 'fhir-observation',
  version: 1,
  title: 'FHIR R4 Observation (vital signs, LOINC/UCUM)',
  deviceClasses: ['vitals'],
  decode,
} as const satisfies Adapter;
