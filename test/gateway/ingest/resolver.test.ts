import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { databasePath, openDatabase, type Database } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';
import { createCachedResolver, type CachedResolver } from '../../../gateway/ingest/resolver.js';

// The per-message look-ups are cached; a registry change made through another connection (the gateway's own
// registry, or the CLI in another process) must be seen within 200 ms, and a new device at once.

let dir: string;
let db: Database | undefined;
let resolver: CachedResolver | undefined;
afterEach(() => {
  resolver?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('cached registry resolver', () => {
  it('finds new devices at once and sees adapter, assignment and bridge-child changes within 200 ms', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-resolver-'));
    db = openDatabase(databasePath(dir));
    const registry = createDeviceRegistry({ db });
    registry.addHome({ id: 'home-0001', teamId: 'team-north' });
    registry.addHome({ id: 'home-0002', teamId: 'team-north' });
    resolver = createCachedResolver(dir);

    expect(resolver.adapterOf('d-0001')).toBeUndefined();
    registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim', homeId: 'home-0001' });
    expect(resolver.adapterOf('d-0001')).toBe('tryggheim');
    const before = new Date(Date.now() + 1000);
    expect(resolver.homeAt('d-0001', before)).toBe('home-0001');

    registry.setAdapter('d-0001', 'senml');
    const moved = new Date(Date.now() + 5000);
    registry.assign('d-0001', 'home-0002', moved);
    await sleep(250);
    expect(resolver.adapterOf('d-0001')).toBe('senml');
    // Time-bound: before the move it was home-0001, after it home-0002.
    expect(resolver.homeAt('d-0001', before)).toBe('home-0001');
    expect(resolver.homeAt('d-0001', new Date(moved.getTime() + 1))).toBe('home-0002');

    registry.addDevice({ id: 'hub-01', kind: 'bridge', model: 'zigbee2mqtt', adapterId: 'zigbee2mqtt' });
    expect(resolver.resolveBridgeChild('hub-01', 'kitchen')).toBeUndefined();
    registry.addBridgeChild({ bridgeId: 'hub-01', friendlyName: 'kitchen', deviceId: 'd-0001' });
    await sleep(250);
    expect(resolver.resolveBridgeChild('hub-01', 'kitchen')).toBe('d-0001');
  });

  it('keeps its cache through commits that are not registry changes (rule states, alerts)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-resolver-'));
    db = openDatabase(databasePath(dir));
    const registry = createDeviceRegistry({ db });
    registry.addHome({ id: 'home-0001', teamId: 'team-north' });
    registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim', homeId: 'home-0001' });
    resolver = createCachedResolver(dir);
    expect(resolver.adapterOf('d-0001')).toBe('tryggheim');
    const loads = resolver.loads();

    // What the rule engine commits under load, several times a second.
    const save = db.prepare(
      "INSERT INTO rule_state (rule, home_id, subject, rule_version, state, updated_at) VALUES ('inactivity', 'home-0001', ?, 1, '{}', ?)",
    );
    for (let i = 0; i < 3; i++) {
      save.run(`s-${i}`, new Date().toISOString());
      await sleep(250);
      expect(resolver.adapterOf('d-0001')).toBe('tryggheim');
    }
    expect(resolver.loads()).toBe(loads);

    // A registry change still drops it.
    registry.setAdapter('d-0001', 'senml');
    await sleep(250);
    expect(resolver.adapterOf('d-0001')).toBe('senml');
    expect(resolver.loads()).toBe(loads + 1);
  });
});
