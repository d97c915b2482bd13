import { z } from 'zod';
import type { Alert } from '../alerts/model.js';
import { SEVERITIES, type Severity } from '../alerts/signal.js';
import type { DeviceHealth } from '../devices/health.js';
import { AdapterIdSchema, DeviceIdSchema, DeviceKindSchema, HomeIdSchema, TeamIdSchema } from '../devices/ids.js';
import type { Device } from '../devices/model.js';

// What the home and device routes say about a device's health and a home's state, from three sources:
// the registry (what the device is, where it is), the in-memory health index (online, last seen, battery,
// firmware since start-up: gateway/devices/health.ts) and the open alerts (the rules' verdicts "silent" and
// "low battery", with each home's thresholds, which survive a restart).

const IsoTime = z.iso.datetime();

export const DeviceHealthSchema = z.object({
  id: DeviceIdSchema,
  kind: DeviceKindSchema,
  model: z.string(),
  adapterId: AdapterIdSchema,
  enabled: z.boolean(),
  homeId: HomeIdSchema.nullable(),
  /** The team of its home; null in stock. */
  teamId: TeamIdSchema.nullable(),
  /** From the broker's status (or the hub's, for a hub's child); null = nothing heard since the gateway started. */
  online: z.boolean().nullable(),
  statusAt: IsoTime.nullable(),
  lastSeenAt: IsoTime.nullable(),
  batteryPct: z.number().nullable(),
  /** The device says so, or the low-battery rule has an active alert for it. */
  lowBattery: z.boolean(),
  /** The device-silent rule has an active alert for it (nothing heard within its interval, or its last will). */
  silent: z.boolean(),
  firmware: z.string().nullable(),
  secretRotatedAt: IsoTime.nullable(),
});
export type DeviceHealthView = z.infer<typeof DeviceHealthSchema>;

export const SeverityCountsSchema = z.object({
  critical: z.int(),
  high: z.int(),
  medium: z.int(),
  low: z.int(),
  total: z.int(),
});

export const DeviceCountsSchema = z.object({
  total: z.int(),
  online: z.int(),
  offline: z.int(),
  /** Nothing heard since the gateway started. */
  unknown: z.int(),
  lowBattery: z.int(),
  silent: z.int(),
});

export const HomeSummarySchema = z.object({
  id: HomeIdSchema,
  teamId: TeamIdSchema,
  timeZone: z.string(),
  /** Alerts not yet resolved, by severity. */
  openAlerts: SeverityCountsSchema,
  devices: DeviceCountsSchema,
  /** The latest message from any of its devices since the gateway started (ISO), else null. */
  lastEventAt: IsoTime.nullable(),
});
export type HomeSummary = z.infer<typeof HomeSummarySchema>;

export interface HealthSources {
  health: { device(id: string): DeviceHealth; homeLastEventAt(homeId: string): string | null };
}

/** The open alerts that matter here, indexed once per request. */
export interface AlertIndex {
  silent: ReadonlySet<string>;
  lowBattery: ReadonlySet<string>;
  byHome: ReadonlyMap<string, Record<Severity, number>>;
}

export function indexAlerts(open: readonly Alert[]): AlertIndex {
  const silent = new Set<string>();
  const lowBattery = new Set<string>();
  const byHome = new Map<string, Record<Severity, number>>();
  for (const a of open) {
    // Both rules name the device as the subject; a cleared alert (device back, battery replaced) no longer counts.
    if (a.state === 'active' && a.rule === 'device-silent') silent.add(a.subject);
    if (a.state === 'active' && a.rule === 'low-battery') lowBattery.add(a.subject);
    if (a.homeId === null) continue;
    const counts = byHome.get(a.homeId) ?? { critical: 0, high: 0, medium: 0, low: 0 };
    counts[a.severity] += 1;
    byHome.set(a.homeId, counts);
  }
  return { silent, lowBattery, byHome };
}

export function deviceHealthView(device: Device, teamId: string | undefined, src: HealthSources, idx: AlertIndex): DeviceHealthView {
  const h = src.health.device(device.id);
  return {
    id: device.id,
    kind: device.kind,
    model: device.model,
    adapterId: device.adapterId,
    enabled: device.enabled,
    homeId: device.homeId,
    teamId: teamId ?? null,
    online: h.online,
    statusAt: h.statusAt,
    lastSeenAt: h.lastSeenAt,
    batteryPct: h.batteryPct,
    lowBattery: h.batteryLow === true || idx.lowBattery.has(device.id),
    silent: idx.silent.has(device.id),
    firmware: h.firmware,
    secretRotatedAt: device.secretRotatedAt,
  };
}

export function homeSummary(
  home: { id: string; teamId: string; timeZone: string },
  devices: readonly DeviceHealthView[],
  src: HealthSources,
  idx: AlertIndex,
): HomeSummary {
  const counts = idx.byHome.get(home.id) ?? { critical: 0, high: 0, medium: 0, low: 0 };
  return {
    id: home.id,
    teamId: home.teamId,
    timeZone: home.timeZone,
    openAlerts: { ...counts, total: SEVERITIES.reduce((n, s) => n + counts[s], 0) },
    devices: {
      total: devices.length,
      online: devices.filter((d) => d.online === true).length,
      offline: devices.filter((d) => d.online === false).length,
      unknown: devices.filter((d) => d.online === null).length,
      lowBattery: devices.filter((d) => d.lowBattery).length,
      silent: devices.filter((d) => d.silent).length,
    },
    lastEventAt: src.health.homeLastEventAt(home.id),
  };
}
