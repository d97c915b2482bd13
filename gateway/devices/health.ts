import type { CanonicalEvent } from '../../adapters/canonical.js';
import type { EventBus } from '../events.js';

// Device health for technicians and the home pages (issue 6 item 1): online or offline, last seen, battery,
// firmware. Nothing stores these cheaply: the broker only reports status changes as they happen (the device's
// retained `status`, its last will), and battery and firmware arrive as status events that go to InfluxDB,
// where reading them back per device would be a query per device and page. So this is a small in-memory index
// fed from the event bus. It is empty after a restart until each device speaks again (devices reconnect at
// once when the gateway restarts, so `online` comes back within seconds; battery and firmware with the
// device's next status report). What must survive a restart — "silent" and "low battery" as the rules judged
// them, with each home's thresholds — comes from the open `device-silent` and `low-battery` alerts instead.

export interface DeviceHealth {
  /** The broker's (or, for a hub's child, the hub's) last word: null when nothing was heard since start-up. */
  readonly online: boolean | null;
  /** When `online` was last reported (ISO), null when never. */
  readonly statusAt: string | null;
  /** The gateway time of the device's latest message (ISO), null when none since start-up. */
  readonly lastSeenAt: string | null;
  readonly batteryPct: number | null;
  /** The device's own low-battery flag, when it sends one. */
  readonly batteryLow: boolean | null;
  readonly firmware: string | null;
}

interface Entry {
  online: boolean | null;
  statusAt: number | null;
  lastSeenAt: number | null;
  batteryPct: number | null;
  batteryLow: boolean | null;
  firmware: string | null;
  /** Receive time of the status event battery and firmware come from (a replayed older one changes nothing). */
  reportedAt: number | null;
}

export const UNKNOWN_HEALTH: DeviceHealth = Object.freeze({
  online: null,
  statusAt: null,
  lastSeenAt: null,
  batteryPct: null,
  batteryLow: null,
  firmware: null,
});

/** Far above any district (the registry holds every device that can publish); past it, new ids are counted, not kept. */
export const MAX_TRACKED_DEVICES = 200_000;

export type HealthIndex = ReturnType<typeof createHealthIndex>;

export function createHealthIndex(opts: { maxDevices?: number } = {}) {
  const max = opts.maxDevices ?? MAX_TRACKED_DEVICES;
  const devices = new Map<string, Entry>();
  const homes = new Map<string, number>();
  let untracked = 0;

  const entry = (id: string): Entry | undefined => {
    let e = devices.get(id);
    if (e === undefined) {
      if (devices.size >= max) {
        untracked += 1;
        return undefined;
      }
      e = { online: null, statusAt: null, lastSeenAt: null, batteryPct: null, batteryLow: null, firmware: null, reportedAt: null };
      devices.set(id, e);
    }
    return e;
  };
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const later = (a: number | null, b: number): number => (a === null || b > a ? b : a);

  const index = {
    /** Canonical events (at least once, possibly replayed: only newer times move anything). */
    onEvents(events: readonly CanonicalEvent[]): void {
      for (const event of events) {
        const at = Date.parse(event.receivedAt);
        if (!Number.isFinite(at)) continue;
        if (event.homeId !== null) homes.set(event.homeId, later(homes.get(event.homeId) ?? null, at));
        const e = entry(event.deviceId);
        if (e === undefined) continue;
        e.lastSeenAt = later(e.lastSeenAt, at);
        if (event.body.type !== 'status') continue;
        const s = event.body.status;
        // Each kind of fact against its own time: the broker reports a retained status when its store has it,
        // which can be after the device's next message was received.
        if (s.online !== undefined && (e.statusAt === null || at >= e.statusAt)) {
          e.online = s.online;
          e.statusAt = at;
        }
        if (e.reportedAt !== null && at < e.reportedAt) continue;
        e.reportedAt = at;
        if (s.battery_pct !== undefined) e.batteryPct = s.battery_pct;
        if (s.battery_low !== undefined) e.batteryLow = s.battery_low;
        if (s.firmware !== undefined) e.firmware = s.firmware;
      }
    },

    /** The broker's status for a client (`online`, or `offline` from its last will). Other words are ignored. */
    onStatus(deviceId: string, status: string, at: number): void {
      if (status !== 'online' && status !== 'offline') return;
      const e = entry(deviceId);
      if (e === undefined) return;
      e.online = status === 'online';
      e.statusAt = at;
      if (status === 'online') e.lastSeenAt = later(e.lastSeenAt, at);
    },

    device(id: string): DeviceHealth {
      const e = devices.get(id);
      if (e === undefined) return UNKNOWN_HEALTH;
      const { reportedAt: _r, ...rest } = e;
      return { ...rest, statusAt: iso(e.statusAt), lastSeenAt: iso(e.lastSeenAt) };
    },

    /** The latest message from any device of the home (ISO), null when none since start-up. */
    homeLastEventAt(homeId: string): string | null {
      return iso(homes.get(homeId) ?? null);
    },

    stats: () => ({ devices: devices.size, untracked }),

    /** Subscribes to the bus; returns the unsubscribe. */
    attach(bus: EventBus): () => void {
      const offEvents = bus.on('events', (events) => {
        index.onEvents(events);
      });
      const offStatus = bus.on('device-status', ({ principal, status, at }) => {
        index.onStatus(principal.id, status, at.getTime());
      });
      return () => {
        offEvents();
        offStatus();
      };
    },
  };
  return index;
}
