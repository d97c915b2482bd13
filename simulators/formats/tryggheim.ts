import type { SimEvent } from '../devices/events.js';
import { deviceTopic } from '../types.js';
import { defined, isEmpty, iso, json, type Encoder } from './encoder.js';

// `tryggheim` — the native format (adapters/README.md § tryggheim): one event object, or `{"events":[...]}`
// with up to 100. Every event carries `ts` (ISO, the device clock) and `seq` (the message counter; a batch
// numbers its events one by one, as the README's batch example does).

const MAX_BATCH = 100;

function body(e: SimEvent): Record<string, unknown> | undefined {
  switch (e.type) {
    case 'dose':
      return defined([
        ['type', `dose.${e.kind}`],
        ['slot', e.slot],
        ['scheduledAt', e.scheduledAt !== undefined ? iso(e.scheduledAt) : undefined],
      ]);
    case 'lock':
      return defined([
        ['type', `lock.${e.kind}`],
        ['method', e.method],
        ['credentialRef', e.credentialRef],
      ]);
    case 'measurement': {
      const r = e.readings;
      const fields = defined([
        ['temperature_c', r.temperatureC],
        ['humidity_pct', r.humidityPct],
        ['illuminance_lux', r.illuminanceLux],
        ['motion', r.motion],
        ['bed_occupied', r.bedOccupied],
        ['chair_occupied', r.chairOccupied],
        ['contact_open', r.doorOpen],
      ]);
      return isEmpty(fields) ? undefined : { type: 'measurement', ...fields };
    }
    case 'alarm':
      return { type: `alarm.${e.kind}`, state: e.state };
    case 'vitals': {
      const r = e.readings;
      const fields = defined([
        ['heart_rate_bpm', r.heartRateBpm],
        ['spo2_pct', r.spo2Pct],
        ['bp_systolic_mmhg', r.systolicMmHg],
        ['bp_diastolic_mmhg', r.diastolicMmHg],
        ['body_weight_kg', r.weightKg],
        ['body_temperature_c', r.bodyTemperatureC],
        ['blood_glucose_mmol_l', r.glucoseMmolL],
      ]);
      return isEmpty(fields) ? undefined : { type: 'vitals', ...fields };
    }
    case 'status': {
      const fields = defined([
        ['battery_pct', e.batteryPct],
        ['battery_low', e.batteryLow],
        ['rssi_dbm', e.rssiDbm],
        ['link_quality', e.linkQuality],
        ['firmware', e.firmware],
      ]);
      return isEmpty(fields) ? undefined : { type: 'status', ...fields };
    }
    case 'availability':
      // Connection status travels on `.../status` (retained, and the will), never in `up`.
      return undefined;
  }
}

export const tryggheimEncoder: Encoder = {
  format: 'tryggheim',
  kinds: ['dispenser', 'lock', 'sensor', 'vitals'],
  encode(spec, message) {
    const bodies = message.events.map(body).filter((b) => b !== undefined);
    if (bodies.length === 0 || bodies.length > MAX_BATCH) return undefined;
    const ts = iso(message.at);
    // `type` first, then ts and seq, then the event's own fields: the order the README's examples use.
    const events = bodies.map(({ type, ...rest }, i) => ({ type, ts, seq: message.counter + i, ...rest }));
    const payload = events.length === 1 ? events[0] : { events };
    return { topic: deviceTopic(spec.id, 'up'), payload: json(payload), qos: 1, retain: false, counters: events.length };
  },
};
