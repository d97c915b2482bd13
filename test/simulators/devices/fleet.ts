import type { DeviceSpec, Incident, IncidentType } from '../../../simulators/types.js';
import { local } from './harness.js';

// A test fleet: every device model in every format it speaks, in one home, plus one incident per type.

const home = 'h001';
export const DATE = '2026-11-23';

export const FLEET: readonly DeviceSpec[] = [
  ...(['tryggheim', 'evcode-dispenser', 'csv-dispenser'] as const).map((format): DeviceSpec => ({
    id: `sim-h001-dispenser-${format}`,
    home,
    kind: 'dispenser',
    model: 'sim-dispenser-ev2',
    format,
    power: 'mains',
  })),
  ...(['tryggheim', 'json-lock'] as const).map((format): DeviceSpec => ({
    id: `sim-h001-lock-${format}`,
    home,
    kind: 'lock',
    model: 'sim-lock-l1',
    format,
    power: 'battery',
  })),
  ...(['tryggheim', 'senml'] as const).map((format): DeviceSpec => ({
    id: `sim-h001-sensor-${format}`,
    home,
    kind: 'sensor',
    model: 'sim-multisensor',
    format,
    power: 'battery',
    roles: ['motion', 'bed', 'chair', 'door-contact', 'climate', 'water-leak', 'smoke', 'fall', 'panic', 'light'],
  })),
  ...(['tryggheim', 'senml', 'fhir-observation'] as const).map((format): DeviceSpec => ({
    id: `sim-h001-vitals-${format}`,
    home,
    kind: 'vitals',
    model: 'sim-vitals-kit',
    format,
    power: 'battery',
  })),
  {
    id: 'sim-h001-hub-1',
    home,
    kind: 'bridge',
    model: 'sim-z2m-hub',
    format: 'zigbee2mqtt',
    power: 'mains',
    children: [
      {
        id: 'sim-h001-z-motion',
        friendlyName: '0x00158d0001a2b3c4',
        kind: 'sensor',
        model: 'sim-aqara-motion',
        roles: ['motion', 'light'],
      },
      { id: 'sim-h001-z-door', friendlyName: '0x00158d0002c4d5e6', kind: 'sensor', model: 'sim-aqara-contact', roles: ['door-contact'] },
      { id: 'sim-h001-z-climate', friendlyName: '0x00158d0003e6f708', kind: 'sensor', model: 'sim-aqara-th', roles: ['climate'] },
      { id: 'sim-h001-z-leak', friendlyName: '0x00158d0003d91a07', kind: 'sensor', model: 'sim-aqara-leak', roles: ['water-leak'] },
      { id: 'sim-h001-z-smoke', friendlyName: '0x00124b0021b7f3aa', kind: 'sensor', model: 'sim-heiman-smoke', roles: ['smoke'] },
      { id: 'sim-h001-z-bed', friendlyName: '0x00124b0021b7f3ab', kind: 'sensor', model: 'sim-bed-mat', roles: ['bed'] },
      { id: 'sim-h001-z-lock', friendlyName: '0x000d6f0011e4b2c9', kind: 'lock', model: 'sim-zigbee-lock' },
    ],
  },
];

const at = (hhmm: string) => local(DATE, hhmm);
const MIN = 60_000;

/** One incident of each type on DATE; device-offline and battery-low name the device under test by kind. */
export function incident(type: IncidentType, spec: DeviceSpec): Incident {
  const i = (hhmm: string, extra: Partial<Incident> = {}): Incident => ({ type, home, at: at(hhmm), ...extra });
  switch (type) {
    case 'dose-not-taken':
      return i('08:00');
    case 'dose-not-dispensed':
      return i('14:00');
    case 'dispenser-jam':
      return i('13:50', { durationMs: 180 * MIN });
    case 'dispenser-empty':
      return i('19:00', { durationMs: 120 * MIN });
    case 'door-left-open':
      return i('23:10', { durationMs: 40 * MIN });
    case 'door-opened-at-night':
      return i('02:30');
    case 'door-forced':
      return i('03:15');
    case 'failed-attempts':
      return i('11:00', { count: 4 });
    case 'bed-exit-no-return':
      return i('02:10', { durationMs: 180 * MIN });
    case 'fall':
      return i('10:30');
    case 'panic':
      return i('15:00');
    case 'smoke':
      return i('17:00');
    case 'water-leak':
      return i('12:00', { durationMs: 60 * MIN });
    case 'no-motion':
      return i('09:00', { durationMs: 360 * MIN });
    case 'temperature-low':
      return i('04:00', { durationMs: 180 * MIN });
    case 'vitals-out-of-range':
      return i('09:00');
    case 'device-offline':
      return i('10:00', { durationMs: 180 * MIN, device: spec.kind });
    case 'battery-low':
      return i('12:00', { device: spec.kind });
  }
}
