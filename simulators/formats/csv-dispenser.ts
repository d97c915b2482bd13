import type { DoseKind, DoseSimEvent, StatusSimEvent } from '../devices/events.js';
import { deviceTopic } from '../types.js';
import { epochSeconds, type Encoder } from './encoder.js';

// `csv-dispenser` — the vendor-style positional text format (adapters/README.md § csv-dispenser):
//   D1;<ts>;<STATUS>;<slot HH:MM>;<scheduled>;<battery>   one record per dose event, LF-separated
//   END;<count>                                           the trailer, no trailing LF
// Times in epoch seconds. A battery level rides on the last record, or alone is a BATTERY record. The
// format has no message counter.

const WORDS = {
  due: 'DUE',
  dispensed: 'DISPENSED',
  taken: 'TAKEN',
  missed: 'MISSED',
  not_dispensed: 'NOT_DISPENSED',
  late: 'LATE',
  refill_needed: 'REFILL',
  empty: 'EMPTY',
  jam: 'JAM',
  power_lost: 'POWER_OFF',
  power_restored: 'POWER_ON',
} as const satisfies Record<DoseKind, string>;

const MAX_RECORDS = 50;
const SLOT = /^([01]\d|2[0-3]):[0-5]\d$/;

function record(ts: number, word: string, dose: DoseSimEvent | undefined, battery: number | undefined): string {
  const slot = dose?.slot !== undefined && SLOT.test(dose.slot) ? dose.slot : '';
  const scheduled = dose?.scheduledAt !== undefined ? String(epochSeconds(dose.scheduledAt)) : '';
  return ['D1', String(ts), word, slot, scheduled, battery !== undefined ? String(battery) : ''].join(';');
}

export const csvDispenserEncoder: Encoder = {
  format: 'csv-dispenser',
  kinds: ['dispenser'],
  encode(spec, message) {
    const ts = epochSeconds(message.at);
    const doses = message.events.filter((e) => e.type === 'dose');
    const status = message.events.find((e): e is StatusSimEvent => e.type === 'status');
    const battery = status?.batteryPct !== undefined ? Math.min(100, Math.max(0, Math.round(status.batteryPct))) : undefined;
    const records = doses.map((d, i) => record(ts, WORDS[d.kind], d, i === doses.length - 1 ? battery : undefined));
    if (records.length === 0 && battery !== undefined) records.push(record(ts, 'BATTERY', undefined, battery));
    if (records.length === 0 || records.length > MAX_RECORDS) return undefined;
    const text = [...records, `END;${records.length}`].join('\n');
    return { topic: deviceTopic(spec.id, 'up'), payload: Buffer.from(text, 'ascii'), qos: 1, retain: false, counters: 1 };
  },
};
