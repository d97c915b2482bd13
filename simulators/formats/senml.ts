import type { SimEvent } from '../devices/events.js';
import { deviceTopic } from '../types.js';
import { type Encoder } from './encoder.js';

// `senml` — SenML JSON packs (RFC 8428; adapters/README.md § senml) for sensors and vital-signs devices.
// The first record carries the base name (the device's opaque id as a URN) and the base time in epoch
// seconds; every reading is one record with its SenML unit. SenML has no alarm, dose, lock, firmware or
// counter: such events are not carried.

type SenmlRecord = Readonly<Record<string, string | number | boolean>>;

const num = (n: string, u: string, v: number | undefined): SenmlRecord[] => (v === undefined ? [] : [{ n, u, v }]);
const bool = (n: string, vb: boolean | undefined): SenmlRecord[] => (vb === undefined ? [] : [{ n, vb }]);

function records(e: SimEvent): SenmlRecord[] {
  switch (e.type) {
    case 'measurement': {
      const r = e.readings;
      return [
        ...num('temperature', 'Cel', r.temperatureC),
        ...num('humidity', '%RH', r.humidityPct),
        ...num('illuminance', 'lx', r.illuminanceLux),
        ...bool('motion', r.motion),
        ...bool('bed', r.bedOccupied),
        ...bool('chair', r.chairOccupied),
        // SenML `open` reads naturally: true = open (no inversion, unlike Zigbee2MQTT's `contact`).
        ...bool('open', r.doorOpen),
      ];
    }
    case 'vitals': {
      const r = e.readings;
      return [
        ...num('systolic', 'mmHg', r.systolicMmHg),
        ...num('diastolic', 'mmHg', r.diastolicMmHg),
        ...num('heartRate', 'beat/min', r.heartRateBpm),
        ...num('spo2', '%', r.spo2Pct),
        ...num('weight', 'kg', r.weightKg),
        ...num('bodyTemperature', 'Cel', r.bodyTemperatureC),
        ...num('glucose', 'mmol/l', r.glucoseMmolL),
      ];
    }
    case 'status':
      return num('battery', '%EL', e.batteryPct);
    case 'dose':
    case 'lock':
    case 'alarm':
    case 'availability':
      return [];
  }
}

export const senmlEncoder: Encoder = {
  format: 'senml',
  kinds: ['sensor', 'vitals'],
  encode(spec, message) {
    const recs = message.events.flatMap(records);
    const [first, ...rest] = recs;
    if (first === undefined) return undefined;
    // Base fields first in the first record, as RFC 8428's examples write them. Whole seconds stay integers.
    const pack = [{ bn: `urn:dev:ops:${spec.id}:`, bt: message.at / 1000, ...first }, ...rest];
    return { topic: deviceTopic(spec.id, 'up'), payload: Buffer.from(JSON.stringify(pack), 'utf8'), qos: 1, retain: false, counters: 1 };
  },
};
