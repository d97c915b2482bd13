import type { DoseKind, StatusSimEvent } from '../devices/events.js';
import { deviceTopic, type DeviceSpec } from '../types.js';
import { defined, epochSeconds, json, type Encoder } from './encoder.js';

// `evcode-dispenser` — the vendor-style dispenser with numbered event codes (adapters/README.md
// § evcode-dispenser): `{"sn","ev","ts","slot","due","bat","fw","cnt"}`, times in epoch SECONDS, `slot` the
// carousel pocket (1–99, not a time label), `cnt` a uint32 message counter. One dose event per message;
// battery and firmware ride along, and alone they are the E90 heartbeat.

const CODES = {
  due: 'E10',
  dispensed: 'E20',
  taken: 'E21',
  missed: 'E22',
  not_dispensed: 'E23',
  late: 'E26',
  refill_needed: 'E30',
  empty: 'E31',
  jam: 'E40',
  power_lost: 'E50',
  power_restored: 'E51',
} as const satisfies Record<DoseKind, string>;

const HEARTBEAT = 'E90';

/** The vendor's serial: `[A-Za-z0-9-]{4,32}`. Derived from the opaque device id, so it is opaque too. */
export function serialOf(spec: DeviceSpec): string {
  const s = `DSP-${spec.id.replace(/[^A-Za-z0-9-]/g, '')}`.slice(0, 32);
  return s.padEnd(4, '0');
}

export const evcodeDispenserEncoder: Encoder = {
  format: 'evcode-dispenser',
  kinds: ['dispenser'],
  encode(spec, message) {
    const doses = message.events.filter((e) => e.type === 'dose');
    // The vendor sends one code per message: two dose events in one message cannot be said.
    if (doses.length > 1) return undefined;
    const dose = doses[0];
    const status = message.events.find((e): e is StatusSimEvent => e.type === 'status');
    const bat = status?.batteryPct !== undefined ? Math.round(status.batteryPct) : undefined;
    const fw = status?.firmware !== undefined && /^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(status.firmware) ? status.firmware : undefined;
    if (dose === undefined && bat === undefined && fw === undefined) return undefined;
    const fields = defined([
      ['sn', serialOf(spec)],
      ['ev', dose !== undefined ? CODES[dose.kind] : HEARTBEAT],
      ['ts', epochSeconds(message.at)],
      ['slot', dose?.position],
      ['due', dose?.scheduledAt !== undefined ? epochSeconds(dose.scheduledAt) : undefined],
      ['bat', bat],
      ['fw', fw],
      // uint32: the counter wraps like the device's would.
      ['cnt', message.counter >>> 0],
    ]);
    return { topic: deviceTopic(spec.id, 'up'), payload: json(fields), qos: 1, retain: false, counters: 1 };
  },
};
