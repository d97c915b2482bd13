// Incidents: the file's "home h7, 23:40, door-left-open for 3h" → types.ts `Incident` (epoch ms), checked
// against the fleet (a dose incident needs a dispenser in that home), plus the seeded random incidents of a
// busy district. Which device acts on an incident is the device model's business; here we only make sure
// some device in the home can.
import { INCIDENT_TYPES, type DeviceKind, type DeviceSpec, type Incident, type IncidentType, type SensorRole } from '../types.js';
import type { FieldPath, Problem } from './errors.js';
import { deriveRand } from './random.js';
import type { IncidentFile } from './schema.js';
import { formatLocal, localTimeOnDay, parseDuration, toLocal } from './time.js';

type Need = { readonly kind: DeviceKind } | { readonly role: SensorRole } | { readonly battery: true };

interface Rule {
  /** Any one of these in the home is enough (none: the named `device` is the need). */
  readonly needs: readonly Need[];
  readonly duration?: 'required';
  readonly count?: 'required';
  readonly device?: 'required' | 'optional';
  /** Random incidents: default duration, and the local hours [from, to) they are drawn in (wrapping midnight). */
  readonly randomDuration?: string;
  readonly hours?: readonly [number, number];
  readonly times?: readonly string[];
}

const DISPENSER = [{ kind: 'dispenser' }] as const;
const DOOR = [{ kind: 'lock' }, { role: 'door-contact' }] as const;
/** Dose incidents act on the scheduled dose at or after their time: draw them at typical dose times. */
const DOSE_TIMES = ['08:00', '14:00', '20:00'] as const;

export const INCIDENT_RULES: Record<IncidentType, Rule> = {
  'dose-not-taken': { needs: DISPENSER, times: DOSE_TIMES },
  'dose-not-dispensed': { needs: DISPENSER, times: DOSE_TIMES },
  'dispenser-jam': { needs: DISPENSER, hours: [7, 21] },
  'dispenser-empty': { needs: DISPENSER, hours: [7, 21] },
  'door-left-open': { needs: DOOR, duration: 'required', randomDuration: '40m', hours: [8, 21] },
  'door-opened-at-night': { needs: DOOR, randomDuration: '5m', hours: [23, 5] },
  'door-forced': { needs: [{ kind: 'lock' }], hours: [8, 22] },
  'failed-attempts': { needs: [{ kind: 'lock' }], count: 'required', hours: [8, 22] },
  'bed-exit-no-return': { needs: [{ role: 'bed' }], duration: 'required', randomDuration: '1h', hours: [23, 5] },
  fall: { needs: [{ role: 'fall' }], hours: [6, 23] },
  panic: { needs: [{ role: 'panic' }], hours: [6, 23] },
  smoke: { needs: [{ role: 'smoke' }], hours: [6, 23] },
  'water-leak': { needs: [{ role: 'water-leak' }], hours: [6, 23] },
  'no-motion': { needs: [{ role: 'motion' }], duration: 'required', randomDuration: '5h', hours: [8, 13] },
  'temperature-low': { needs: [{ role: 'climate' }], duration: 'required', randomDuration: '2h', hours: [0, 24] },
  'vitals-out-of-range': { needs: [{ kind: 'vitals' }], hours: [7, 21] },
  'device-offline': { needs: [], duration: 'required', device: 'required', randomDuration: '1h', hours: [0, 24] },
  'battery-low': { needs: [{ battery: true }], device: 'optional', hours: [0, 24] },
};

/** What a home has, for incident checks: kinds, roles, device ids (hub children included), battery devices. */
export interface HomeInventory {
  readonly kinds: ReadonlySet<DeviceKind>;
  readonly roles: ReadonlySet<SensorRole>;
  readonly ids: ReadonlySet<string>;
  readonly battery: boolean;
}

export function inventories(fleet: readonly DeviceSpec[]): Map<string, HomeInventory> {
  const out = new Map<string, { kinds: Set<DeviceKind>; roles: Set<SensorRole>; ids: Set<string>; battery: boolean }>();
  for (const d of fleet) {
    let inv = out.get(d.home);
    if (inv === undefined) out.set(d.home, (inv = { kinds: new Set(), roles: new Set(), ids: new Set(), battery: false }));
    // Zigbee children run on batteries: that is what Zigbee end devices are.
    for (const unit of [d, ...(d.children ?? [])]) {
      inv.kinds.add(unit.kind);
      inv.ids.add(unit.id);
      for (const r of unit.roles ?? []) inv.roles.add(r);
    }
    inv.battery ||= d.power === 'battery' || (d.children?.length ?? 0) > 0;
  }
  return out;
}

const describeNeed = (n: Need): string => ('kind' in n ? n.kind : 'role' in n ? `${n.role} sensor` : 'battery-powered device');

function satisfies(inv: HomeInventory | undefined, need: Need): boolean {
  if (inv === undefined) return false;
  if ('kind' in need) return inv.kinds.has(need.kind);
  if ('role' in need) return inv.roles.has(need.role);
  return inv.battery;
}

const canHost = (inv: HomeInventory | undefined, rule: Rule): boolean =>
  rule.needs.length === 0 || rule.needs.some((n) => satisfies(inv, n));

export interface IncidentContext {
  readonly start: number;
  readonly end: number;
  readonly timeZone: string;
  readonly inventory: ReadonlyMap<string, HomeInventory>;
  /** Resolves a file's home reference (`h3`, `3`, `h003`) to the fleet's id. */
  readonly resolveHome: (ref: string | number) => string | undefined;
  readonly problem: (path: FieldPath, message: string) => Problem;
}

export function resolveIncident(f: IncidentFile, path: FieldPath, c: IncidentContext, problems: Problem[]): Incident | undefined {
  const rule = INCIDENT_RULES[f.type];
  const before = problems.length;
  const home = c.resolveHome(f.home);
  if (home === undefined) problems.push(c.problem([...path, 'home'], `no home ${JSON.stringify(f.home)} in the fleet`));
  if (rule.duration === 'required' && f.duration === undefined)
    problems.push(c.problem(path, `${f.type} needs a duration (e.g. duration: 3h)`));
  if (rule.count === 'required' && f.count === undefined) problems.push(c.problem(path, `${f.type} needs a count (e.g. count: 5)`));
  if (rule.count === undefined && f.count !== undefined)
    problems.push(c.problem([...path, 'count'], 'count is only used by failed-attempts'));
  if (rule.device === 'required' && f.device === undefined)
    problems.push(c.problem(path, `${f.type} needs a device (a kind such as bridge, or a device id)`));
  if (rule.device === undefined && f.device !== undefined)
    problems.push(c.problem([...path, 'device'], 'device is only used by device-offline and battery-low'));
  const inv = home === undefined ? undefined : c.inventory.get(home);
  if (home !== undefined && !canHost(inv, rule)) {
    problems.push(c.problem([...path, 'home'], `home ${home} has no ${rule.needs.map(describeNeed).join(' or ')}`));
  }
  if (
    home !== undefined &&
    f.device !== undefined &&
    rule.device !== undefined &&
    !inv?.kinds.has(f.device as DeviceKind) &&
    !inv?.ids.has(f.device)
  ) {
    problems.push(
      c.problem(
        [...path, 'device'],
        `home ${home} has no device ${JSON.stringify(f.device)} (expected a kind it has, or one of its device ids)`,
      ),
    );
  }
  let at = localTimeOnDay(c.start, (f.day ?? 1) - 1, f.at, c.timeZone);
  if (f.day === undefined && at < c.start) at = localTimeOnDay(c.start, 1, f.at, c.timeZone);
  if (at < c.start || at >= c.end) {
    const edge =
      at < c.start
        ? `before the scenario start (${formatLocal(c.start, c.timeZone)})`
        : `at or after the scenario end (${formatLocal(c.end, c.timeZone)})`;
    problems.push(c.problem([...path, f.day === undefined ? 'at' : 'day'], `${formatLocal(at, c.timeZone)} is ${edge}`));
  }
  if (problems.length > before || home === undefined) return undefined;
  return {
    type: f.type,
    home,
    at,
    ...(f.duration === undefined ? {} : { durationMs: parseDuration(f.duration) }),
    ...(f.device === undefined ? {} : { device: f.device }),
    ...(f.count === undefined ? {} : { count: f.count }),
  };
}

const inHours = (hour: number, [from, to]: readonly [number, number]): boolean =>
  from <= to ? hour >= from && hour < to : hour >= from || hour < to;

/** `count` incidents drawn from the seed: each type in turn, a home that can have it, a time in its hours. */
export function randomIncidents(
  spec: { count: number; types?: readonly IncidentType[] | undefined },
  seed: number,
  c: IncidentContext,
  homes: readonly string[],
  path: FieldPath,
  problems: Problem[],
): Incident[] {
  const rand = deriveRand(seed, 'incidents');
  const types = spec.types ?? INCIDENT_TYPES;
  const hosts = new Map<IncidentType, string[]>();
  for (const [i, type] of types.entries()) {
    const rule = INCIDENT_RULES[type];
    const ok = homes.filter((h) => canHost(c.inventory.get(h), rule));
    if (ok.length === 0) problems.push(c.problem([...path, 'types', i], `no home in the fleet can have ${type}`));
    hosts.set(type, ok);
  }
  if (problems.length > 0) return [];
  // Leave room at both ends: an incident needs its devices connected, and its alert needs time to follow.
  const from = c.start + 10 * 60_000;
  const span = Math.max(0, c.end - 60 * 60_000 - from);
  const out: Incident[] = [];
  for (let k = 0; k < spec.count; k++) {
    const type = types[Math.floor(rand() * types.length)] as IncidentType;
    const rule = INCIDENT_RULES[type];
    const candidates = hosts.get(type) ?? [];
    const home = candidates[Math.floor(rand() * candidates.length)] as string;
    let at = from + Math.floor(rand() * span);
    for (let tries = 0; tries < 200; tries++) {
      const t = from + Math.floor(rand() * span);
      if (rule.times !== undefined) {
        const hhmm = rule.times[Math.floor(rand() * rule.times.length)] as string;
        at = localTimeOnDay(t, 0, hhmm, c.timeZone);
        if (at >= from && at < from + span) break;
      } else {
        at = Math.floor(t / 60_000) * 60_000;
        if (inHours(toLocal(at, c.timeZone).hour, rule.hours ?? [0, 24])) break;
      }
    }
    const inv = c.inventory.get(home);
    const devices = inv === undefined ? [] : [...inv.kinds].sort();
    out.push({
      type,
      home,
      at,
      ...(rule.randomDuration === undefined ? {} : { durationMs: parseDuration(rule.randomDuration) }),
      ...(rule.device === 'required' ? { device: devices[Math.floor(rand() * devices.length)] } : {}),
      ...(rule.count === 'required' ? { count: 3 + Math.floor(rand() * 5) } : {}),
    });
  }
  return out;
}
