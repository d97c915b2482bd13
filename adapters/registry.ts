import type { Adapter } from './contract.js';
import { csvDispenserAdapter } from './csv-dispenser.js';
import { evcodeDispenserAdapter } from './evcode-dispenser.js';
import { fhirObservationAdapter } from './fhir-observation.js';
import { jsonLockAdapter } from './json-lock.js';
import { senmlAdapter } from './senml.js';
import { tryggheimAdapter } from './tryggheim.js';
import { zigbee2mqttAdapter } from './zigbee2mqtt.js';

// The adapter catalogue: an explicit list, not a folder scan. Adding a vendor = one file, one line here,
// fixtures under test/fixtures/adapters/<id>/, and a section in adapters/README.md.
export const ADAPTERS: readonly Adapter[] = [
  tryggheimAdapter,
  fhirObservationAdapter,
  evcodeDispenserAdapter,
  csvDispenserAdapter,
  jsonLockAdapter,
  zigbee2mqttAdapter,
  senmlAdapter,
];

const byId = new Map(ADAPTERS.map((a) => [a.id, a]));

export function getAdapter(id: string): Adapter | undefined {
  return byId.get(id);
}

export function adapterIds(): string[] {
  return ADAPTERS.map((a) => a.id);
}
