import BetterSqlite3 from 'better-sqlite3';
import { getAdapter } from '../../adapters/registry.js';
import { databasePath } from '../db/sqlite.js';
import type { DeviceDetails } from '../devices/model.js';
import { createDeviceRegistry } from '../devices/registry.js';
import type { Resolver } from './decode.js';

// Device → adapter, home (at a time) and bridge children, for every message: an in-memory cache over the
// registry (the ingest benchmark measured registry queries at ~38 % of the gateway's CPU per message).
// It reads through its own read-only connection, so `PRAGMA data_version` changes whenever anyone else —
// the gateway's own registry connection or the CLI in another process — commits a change; the cache is
// dropped then. A change is seen within STALE_MS.

const STALE_MS = 200;

interface Entry {
  adapterId: string;
  /** Newest first, half-open [validFrom, validTo), ISO-8601 UTC (fixed width: string order is time order). */
  assignments: DeviceDetails['assignments'];
  children: Map<string, string>;
}

export interface CachedResolver extends Resolver {
  close(): void;
}

export function createCachedResolver(dataDir: string, now: () => number = Date.now): CachedResolver {
  const db = new BetterSqlite3(databasePath(dataDir), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const registry = createDeviceRegistry({ db });
  const cache = new Map<string, Entry>();
  let version = db.pragma('data_version', { simple: true }) as number;
  let checkedAt = now();

  function entry(deviceId: string): Entry | undefined {
    const t = now();
    if (t - checkedAt >= STALE_MS) {
      checkedAt = t;
      const v = db.pragma('data_version', { simple: true }) as number;
      if (v !== version) {
        version = v;
        cache.clear();
      }
    }
    const hit = cache.get(deviceId);
    if (hit) return hit;
    const d = registry.getDevice(deviceId);
    if (d === undefined) return undefined; // not cached: a device added a moment later must be found
    const e: Entry = {
      adapterId: d.adapterId,
      assignments: d.assignments,
      children: new Map((d.children ?? []).map((c) => [c.friendlyName, c.deviceId])),
    };
    cache.set(deviceId, e);
    return e;
  }

  return {
    adapterOf: (id) => entry(id)?.adapterId,
    homeAt(id, at) {
      const iso = at.toISOString();
      return entry(id)?.assignments.find((a) => a.validFrom <= iso && (a.validTo === null || a.validTo > iso))?.homeId;
    },
    resolveBridgeChild: (bridgeId, name) => entry(bridgeId)?.children.get(name),
    getAdapter,
    close: () => db.close(),
  };
}
