// Fleet expansion: the file's "20 homes, 60 % with a Zigbee2MQTT hub, dispensers half evcode, half csv" →
// one DeviceSpec per MQTT client, with opaque synthetic ids. Shares are exact (largest remainder) and who gets
// what is drawn from the seed, so the same file always gives the same fleet.
import type { ChildSpec, DeviceKind, DeviceSpec, Format, SensorRole } from '../types.js';
import { apportion, deriveRand } from './random.js';
import type { DeviceGroupFile, DevicesFile, FleetFile, FormatMix, SensorUnitFile } from './schema.js';

/** Which wire formats can carry which device class (adapters/README.md). zigbee2mqtt = a child of the home's hub. */
export const KIND_FORMATS = {
  dispenser: ['tryggheim', 'evcode-dispenser', 'csv-dispenser'],
  lock: ['tryggheim', 'json-lock', 'zigbee2mqtt'],
  sensor: ['tryggheim', 'senml', 'zigbee2mqtt'],
  vitals: ['tryggheim', 'fhir-observation', 'senml'],
} as const satisfies Record<Exclude<DeviceKind, 'bridge'>, readonly Format[]>;

const SHORT: Record<Format, string> = {
  tryggheim: 'tg',
  zigbee2mqtt: 'z2m',
  senml: 'senml',
  'fhir-observation': 'fhir',
  'evcode-dispenser': 'ev',
  'csv-dispenser': 'csv',
  'json-lock': 'jl',
};
const ABBR: Record<DeviceKind, string> = { dispenser: 'disp', lock: 'lock', sensor: 'sens', vitals: 'vit', bridge: 'hub' };
/** Sensor roles Zigbee2MQTT cannot express. */
const NOT_ZIGBEE: ReadonlySet<SensorRole> = new Set(['bed', 'chair', 'fall', 'panic']);

const DEFAULT_POWER: Record<DeviceKind, 'mains' | 'battery'> = {
  dispenser: 'mains',
  lock: 'battery',
  sensor: 'battery',
  vitals: 'battery',
  bridge: 'mains',
};

export interface Home {
  readonly id: string;
  readonly devices: DevicesFile;
}

/** Width 3 (`h003`) unless the fleet needs more, so ids sort the way they count. */
export const homeIdFor = (prefix: string, n: number, count: number): string =>
  `${prefix}${String(n).padStart(Math.max(3, String(count).length), '0')}`;

export function homesOf(fleet: FleetFile): Home[] {
  const { homes } = fleet;
  if (typeof homes === 'number')
    return Array.from({ length: homes }, (_, i) => ({ id: homeIdFor(fleet.idPrefix, i + 1, homes), devices: fleet.devices }));
  return homes.map((h) => (typeof h === 'string' ? { id: h, devices: fleet.devices } : h));
}

export const mixEntries = (mix: FormatMix): [Format, number][] =>
  typeof mix === 'string' ? [[mix, 1]] : (Object.entries(mix) as [Format, number][]).filter(([, w]) => w > 0);

/** Exactly `share` % of the given homes (rounded), chosen by the seed, in their original order. */
function pick(homes: readonly number[], share: number | undefined, rand: () => number): number[] {
  if (share === undefined || share >= 100) return [...homes];
  const has = apportion(homes.length, [[true, share] as const, [false, 100 - share] as const], rand);
  return homes.filter((_, i) => has[i] === true);
}

interface Placed {
  readonly kind: Exclude<DeviceKind, 'bridge'>;
  readonly format: Format;
  readonly model: string;
  readonly power: 'mains' | 'battery';
  readonly roles?: readonly SensorRole[];
}

const unitRoles = (u: SensorUnitFile): readonly SensorRole[] => (typeof u === 'string' ? [u] : Array.isArray(u) ? u : u.roles);

/** The devices each home gets, group by group in a fixed order, so adding homes never reshuffles the draws. */
function place(homes: readonly Home[], seed: number): Placed[][] {
  const rand = deriveRand(seed, 'fleet');
  const placed: Placed[][] = homes.map(() => []);
  const sections = new Map<DevicesFile, number[]>();
  homes.forEach((h, i) => sections.set(h.devices, [...(sections.get(h.devices) ?? []), i]));

  const group = (idxs: number[], kind: 'dispenser' | 'lock' | 'vitals', g: DeviceGroupFile | undefined): void => {
    if (g === undefined) return;
    const have = pick(idxs, g.share, rand);
    const formats = apportion(have.length, mixEntries(g.formats), rand);
    have.forEach((hi, j) => {
      const format = formats[j] as Format;
      for (let c = 0; c < (g.count ?? 1); c++) {
        placed[hi]?.push({ kind, format, model: g.model ?? `sim-${kind}-${SHORT[format]}`, power: g.power ?? DEFAULT_POWER[kind] });
      }
    });
  };

  for (const [section, idxs] of sections) {
    group(idxs, 'dispenser', section.dispenser);
    group(idxs, 'lock', section.lock);
    const s = section.sensors;
    if (s !== undefined) {
      const have = pick(idxs, s.share, rand);
      const formats = apportion(have.length, mixEntries(s.formats), rand);
      const formatOf = new Map(have.map((hi, j) => [hi, formats[j] as Format]));
      for (const unit of s.units) {
        const roles = unitRoles(unit);
        const unitModel = typeof unit === 'object' && !Array.isArray(unit) ? unit.model : undefined;
        for (const hi of pick(have, typeof unit === 'object' && !Array.isArray(unit) ? unit.share : undefined, rand)) {
          // Zigbee2MQTT has no field for a bed mat, a chair pad, a fall or a panic button (formats/zigbee2mqtt.ts):
          // such a sensor comes with its vendor's own connection, in the native format, in a hub home as well.
          const hubFormat = formatOf.get(hi) as Format;
          const format: Format = hubFormat === 'zigbee2mqtt' && roles.some((r) => NOT_ZIGBEE.has(r)) ? 'tryggheim' : hubFormat;
          const model = unitModel ?? s.model ?? `sim-sensor-${SHORT[format]}-${roles.join('-')}`;
          placed[hi]?.push({ kind: 'sensor', format, model, power: s.power ?? DEFAULT_POWER.sensor, roles });
        }
      }
    }
    group(idxs, 'vitals', section.vitals);
  }
  return placed;
}

/** Every MQTT client of the fleet (hubs carry their Zigbee children), home by home. Deterministic from the seed. */
export function expandFleet(s: { readonly seed: number; readonly fleet: FleetFile }): DeviceSpec[] {
  const homes = homesOf(s.fleet);
  const placed = place(homes, s.seed);
  const ieeeRand = deriveRand(s.seed, 'ieee');
  const usedIeee = new Set<string>();
  // IEEE-style addresses under a real Zigbee vendor prefix, random below it: opaque, unique in the fleet.
  const ieee = (): string => {
    for (;;) {
      const hex = (bits: number): string =>
        Math.floor(ieeeRand() * 2 ** bits)
          .toString(16)
          .padStart(bits / 4, '0');
      const name = `0x00158d${hex(20)}${hex(20)}`;
      if (!usedIeee.has(name)) {
        usedIeee.add(name);
        return name;
      }
    }
  };

  const specs: DeviceSpec[] = [];
  homes.forEach((home, hi) => {
    const seq = new Map<DeviceKind, number>();
    const nextId = (kind: DeviceKind): string => {
      const n = (seq.get(kind) ?? 0) + 1;
      seq.set(kind, n);
      return `sim-${home.id}-${ABBR[kind]}-${n}`;
    };
    const children: ChildSpec[] = [];
    for (const p of placed[hi] ?? []) {
      const id = nextId(p.kind);
      const roles = p.roles === undefined ? {} : { roles: p.roles };
      if (p.format === 'zigbee2mqtt') children.push({ id, friendlyName: ieee(), kind: p.kind, model: p.model, ...roles });
      else specs.push({ id, home: home.id, kind: p.kind, model: p.model, format: p.format, power: p.power, ...roles });
    }
    if (children.length > 0) {
      const model = home.devices.hub?.model ?? 'sim-bridge-z2m';
      specs.push({ id: nextId('bridge'), home: home.id, kind: 'bridge', model, format: 'zigbee2mqtt', power: 'mains', children });
    }
  });
  return specs;
}

/** Registry devices in the fleet: every client plus every hub child. */
export const countDevices = (fleet: readonly DeviceSpec[]): number => fleet.reduce((n, d) => n + 1 + (d.children?.length ?? 0), 0);
