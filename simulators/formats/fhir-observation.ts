import type { Vitals, VitalsSimEvent } from '../devices/events.js';
import { deviceTopic } from '../types.js';
import { iso, json, type Encoder } from './encoder.js';

// `fhir-observation` — FHIR R4 Observations with LOINC codes and UCUM units (adapters/README.md
// § fhir-observation), as a home vital-signs hub posts them: one Observation for a single reading, a
// transaction Bundle for a session (the blood-pressure panel with the pulse taken with it). The device is
// referenced by its opaque id; there is no `subject`: the home comes from the registry, never the payload.

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

interface Code {
  readonly code: string;
  readonly display: string;
}

const VITAL_SIGNS_CATEGORY = [
  {
    coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }],
  },
];

/** Single-value readings: LOINC code and UCUM unit (the unit's `unit` text is what the device shows). */
const SINGLE = [
  ['heartRateBpm', { code: '8867-4', display: 'Heart rate' }, '/min', 'beats/minute'],
  ['spo2Pct', { code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' }, '%', '%'],
  ['weightKg', { code: '29463-7', display: 'Body weight' }, 'kg', 'kg'],
  ['bodyTemperatureC', { code: '8310-5', display: 'Body temperature' }, 'Cel', '°C'],
  // Moles/volume (15074-8) is the LOINC code for a glucose value in mmol/L.
  ['glucoseMmolL', { code: '15074-8', display: 'Glucose [Moles/volume] in Blood' }, 'mmol/L', 'mmol/L'],
] as const satisfies readonly (readonly [keyof Vitals, Code, string, string])[];

const BP_PANEL: Code = { code: '85354-9', display: 'Blood pressure panel with all children optional' };
const SYSTOLIC: Code = { code: '8480-6', display: 'Systolic blood pressure' };
const DIASTOLIC: Code = { code: '8462-4', display: 'Diastolic blood pressure' };

const concept = (c: Code) => ({ coding: [{ system: LOINC, code: c.code, display: c.display }] });
const quantity = (value: number, code: string, unit: string) => ({ value, unit, system: UCUM, code });

function observations(deviceId: string, at: string, r: Vitals): object[] {
  const base = (c: Code) => ({
    resourceType: 'Observation',
    status: 'final',
    category: VITAL_SIGNS_CATEGORY,
    code: concept(c),
    effectiveDateTime: at,
    device: { reference: `Device/${deviceId}` },
  });
  const out: object[] = [];
  if (r.systolicMmHg !== undefined || r.diastolicMmHg !== undefined) {
    const component = [
      ...(r.systolicMmHg !== undefined ? [{ code: concept(SYSTOLIC), valueQuantity: quantity(r.systolicMmHg, 'mm[Hg]', 'mmHg') }] : []),
      ...(r.diastolicMmHg !== undefined ? [{ code: concept(DIASTOLIC), valueQuantity: quantity(r.diastolicMmHg, 'mm[Hg]', 'mmHg') }] : []),
    ];
    out.push({ ...base(BP_PANEL), component });
  }
  for (const [field, code, ucum, unit] of SINGLE) {
    const value = r[field];
    if (value !== undefined) out.push({ ...base(code), valueQuantity: quantity(value, ucum, unit) });
  }
  return out;
}

export const fhirObservationEncoder: Encoder = {
  format: 'fhir-observation',
  kinds: ['vitals'],
  encode(spec, message) {
    const at = iso(message.at);
    const resources = message.events
      .filter((e): e is VitalsSimEvent => e.type === 'vitals')
      .flatMap((e) => observations(spec.id, at, e.readings));
    // Two values of one reading at one time cannot be told apart by the receiver: the adapter refuses them.
    if (resources.length === 0 || resources.length > 100) return undefined;
    const payload =
      resources.length === 1
        ? resources[0]
        : {
            resourceType: 'Bundle',
            type: 'transaction',
            entry: resources.map((resource) => ({ resource, request: { method: 'POST', url: 'Observation' } })),
          };
    return { topic: deviceTopic(spec.id, 'up'), payload: json(payload), qos: 1, retain: false, counters: 1 };
  },
};
