import BetterSqlite3 from 'better-sqlite3';
import { getAdapter } from '../../adapters/registry.js';
import { databasePath } from '../db/sqlite.js';
import type { DeviceDetails } from '../devices/model.js';
import { createDeviceRegistry } from '../devices/registry.js';
import type { Resolver } from './decode.js';

// Device → adapter, home (at a time) and bridge children, for every message: an in-memory cache over the
// registry (the ingest benchmark measured registry queries at ~38 % of the gateway's CPU per message).
// It reads through its own read-only connection and drops the cache when the registry's change counter moves
// (triggers on the devices, assignments and bridge-children tables, gateway/devices/version-migration.ts),
// whoever wrote — the gateway's own registry connection or the CLI in another process. Not `PRAGMA
// data_version`: that moves with every commit to the file, rule states and alerts included, several times a
// second under load. A change is seen within STALE_MS.

const STALE_MS = 200;

interface Entry {
  adapterId: string;
  /** Newest first, half-open [validFrom, validTo), ISO-8601 UTC (fixed width: string order is time order). */
  assignments: DeviceDetails['assignments'];
  children: Map<string, string>;
}

export interface CachedResolver extends Resolver {
  /** Devices read from SQLite so far (cache misses). */
  loads(): number;
  close(): void;
}

export function createCachedResolver(dataDir: string, now: () => number = Date.now): CachedResolver {
  const db = new BetterSqlite3(databasePath(dataDir), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const registry = createDeviceRegistry({ db });
  const cache = new Map<string, Entry>();
  const versionStmt = db.prepare<[], number>('SELECT version FROM registry_version WHERE id = 1').pluck();
  let version = versionStmt.get();
  let checkedAt = now();
  let loads = 0;

  function entry(deviceId: string): Entry | undefined {
    const t = now();
    if (t - checkedAt >= STALE_MS) {
      checkedAt = t;
      const v = versionStmt.get();
      if (v !== version) {
        version = v;
        cache.clear();
      }
    }
    const hit = cache.get(deviceId);
    if (hit) return hit;
    loads += 1;
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
    loads: () => loads,
    close: () => db.close(),
  };
}
