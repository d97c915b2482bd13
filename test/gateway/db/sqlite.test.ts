import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, type Migration } from '../../../gateway/db/migrations.js';
import { DatabaseError, databasePath, migrate, openDatabase, schemaVersion, type Database } from '../../../gateway/db/sqlite.js';

const LATEST = MIGRATIONS.at(-1)?.version ?? 0;

let dir: string;
const open: Database[] = [];

function openAt(path: string, opts?: { migrations?: readonly Migration[] }): Database {
  const db = openDatabase(path, opts);
  open.push(db);
  return db;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-db-'));
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('creates the parent directory and sets the pragmas', () => {
    const path = databasePath(join(dir, 'nested', 'data'));
    expect(path).toBe(join(dir, 'nested', 'data', 'tryggheim.sqlite'));
    const db = openAt(path);
    expect(existsSync(path)).toBe(true);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
  });

  it('applies the schema and records it', () => {
    const db = openAt(join(dir, 'a.sqlite'));
    const rows = db.prepare('SELECT version, name, applied_at FROM schema_migrations').all() as {
      version: number;
      name: string;
      applied_at: string;
    }[];
    expect(rows.map((r) => [r.version, r.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
    expect(rows[0]?.applied_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['homes', 'devices', 'device_assignments', 'bridge_children']));
  });
});

describe('migrate', () => {
  it('is idempotent, across calls and across reopening', () => {
    const path = join(dir, 'a.sqlite');
    const first = openAt(path);
    expect(migrate(first).applied).toEqual([]);
    first.close();
    const again = openAt(path);
    expect(migrate(again)).toEqual({ from: LATEST, to: LATEST, applied: [] });
    expect(again.prepare('SELECT count(*) FROM schema_migrations').pluck().get()).toBe(MIGRATIONS.length);
  });

  it('applies only the migrations a database lacks, in order', () => {
    const path = join(dir, 'a.sqlite');
    openAt(path).close();
    const next: Migration[] = [
      ...MIGRATIONS,
      { version: LATEST + 1, name: 'notes', up: 'CREATE TABLE notes (id TEXT PRIMARY KEY) STRICT;' },
    ];
    const db = openAt(path, { migrations: next });
    expect(schemaVersion(db)).toBe(LATEST + 1);
    expect(migrate(db, { migrations: next }).applied).toEqual([]);
  });

  it('refuses a database whose schema is newer than the code', () => {
    const path = join(dir, 'a.sqlite');
    const db = openAt(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', '2030-01-01T00:00:00.000Z')").run();
    db.close();
    const err = thrown(() => openAt(path));
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe('TRY_ERR_DB_TOO_NEW');
    expect((err as DatabaseError).message).toContain('version 99');
    expect((err as DatabaseError).message).toContain(`up to ${LATEST}`);
  });

  it('refuses a database with a migration the code does not know', () => {
    const db = openAt(join(dir, 'a.sqlite'), { migrations: [...MIGRATIONS, { version: LATEST + 2, name: 'x', up: 'SELECT 1;' }] });
    const err = thrown(() =>
      migrate(db, {
        migrations: [
          ...MIGRATIONS,
          { version: LATEST + 1, name: 'y', up: 'SELECT 1;' },
          { version: LATEST + 3, name: 'z', up: 'SELECT 1;' },
        ],
      }),
    );
    expect((err as DatabaseError).code).toBe('TRY_ERR_DB_UNKNOWN_MIGRATION');
  });

  it('rolls a failing migration back completely', () => {
    const broken: Migration[] = [
      ...MIGRATIONS,
      { version: LATEST + 1, name: 'broken', up: 'CREATE TABLE half (a INTEGER) STRICT; THIS IS NOT SQL;' },
    ];
    const path = join(dir, 'a.sqlite');
    const err = thrown(() => openAt(path, { migrations: broken }));
    expect((err as DatabaseError).code).toBe('TRY_ERR_DB_MIGRATION');
    const db = openAt(path);
    expect(schemaVersion(db)).toBe(LATEST);
    expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").pluck().get()).toBe(0);
  });

  it('migration 2 (observer kind) rebuilds devices keeping rows, assignments, bridge children and foreign keys', () => {
    const path = join(dir, 'a.sqlite');
    const T = '2025-01-01T00:00:00.000Z';
    const v1 = openAt(path, { migrations: MIGRATIONS.slice(0, 1) });
    v1.prepare("INSERT INTO homes (id, team_id, created_at) VALUES ('home-0001', 'team-north', ?)").run(T);
    const add = v1.prepare(
      "INSERT INTO devices (id, kind, model, adapter_id, secret_hash, enabled, created_at) VALUES (?, ?, 'm', 'native', 'sha256:x', 1, ?)",
    );
    add.run('d-0001', 'sensor', T);
    add.run('b-0001', 'bridge', T);
    v1.prepare("INSERT INTO device_assignments (device_id, home_id, valid_from) VALUES ('d-0001', 'home-0001', ?)").run(T);
    v1.prepare("INSERT INTO bridge_children (bridge_id, friendly_name, device_id, created_at) VALUES ('b-0001', '0x01', 'd-0001', ?)").run(
      T,
    );
    v1.close();

    const db = openAt(path);
    expect(schemaVersion(db)).toBe(LATEST);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.prepare('SELECT id, kind FROM devices ORDER BY id').all()).toEqual([
      { id: 'b-0001', kind: 'bridge' },
      { id: 'd-0001', kind: 'sensor' },
    ]);
    expect(db.prepare('SELECT device_id FROM bridge_children').pluck().all()).toEqual(['d-0001']);
    db.prepare(
      "INSERT INTO devices (id, kind, model, adapter_id, secret_hash, enabled, created_at) VALUES ('obs-01', 'observer', 'm', 'none', 'h', 1, ?)",
    ).run(T);
    // The references still point at the rebuilt table: an unknown device is refused, a child must be behind a bridge.
    expect(() =>
      db.prepare("INSERT INTO device_assignments (device_id, home_id, valid_from) VALUES ('nope-01', 'home-0001', ?)").run(T),
    ).toThrow(/FOREIGN KEY/);
    expect(() =>
      db
        .prepare("INSERT INTO bridge_children (bridge_id, friendly_name, device_id, created_at) VALUES ('obs-01', '0x02', 'b-0001', ?)")
        .run(T),
    ).toThrow(/FOREIGN KEY/);
  });

  it('rejects a migration list that is not strictly increasing', () => {
    const db = openAt(join(dir, 'a.sqlite'));
    expect(() => migrate(db, { migrations: [MIGRATIONS[0] as Migration, MIGRATIONS[0] as Migration] })).toThrow(/strictly increasing/);
  });
});

describe('schema constraints', () => {
  const T = '2025-01-01T00:00:00.000Z';
  function seeded(): Database {
    const db = openAt(join(dir, 'a.sqlite'));
    db.prepare("INSERT INTO homes (id, team_id, created_at) VALUES ('home-0001', 'team-north', ?)").run(T);
    const add = db.prepare(
      "INSERT INTO devices (id, kind, model, adapter_id, secret_hash, enabled, created_at) VALUES (?, ?, 'm', 'native', 'sha256:x', 1, ?)",
    );
    add.run('d-0001', 'sensor', T);
    add.run('b-0001', 'bridge', T);
    return db;
  }

  it('defaults a home to Europe/Oslo', () => {
    const db = seeded();
    expect(db.prepare("SELECT time_zone FROM homes WHERE id = 'home-0001'").pluck().get()).toBe('Europe/Oslo');
  });

  it('allows at most one open assignment per device', () => {
    const db = seeded();
    const assign = db.prepare(
      "INSERT INTO device_assignments (device_id, home_id, valid_from, valid_to) VALUES ('d-0001', 'home-0001', ?, ?)",
    );
    assign.run(T, '2025-02-01T00:00:00.000Z');
    assign.run('2025-02-01T00:00:00.000Z', null);
    expect(() => assign.run('2025-03-01T00:00:00.000Z', null)).toThrow(/UNIQUE/);
  });

  it('lets only a bridge have children, and a device only one bridge', () => {
    const db = seeded();
    const child = db.prepare('INSERT INTO bridge_children (bridge_id, friendly_name, device_id, created_at) VALUES (?, ?, ?, ?)');
    expect(() => child.run('d-0001', '0x01', 'b-0001', T)).toThrow(/FOREIGN KEY/);
    child.run('b-0001', '0x01', 'd-0001', T);
    expect(() => child.run('b-0001', '0x02', 'd-0001', T)).toThrow(/UNIQUE/);
  });

  it('rejects unknown device kinds', () => {
    const db = seeded();
    expect(() =>
      db
        .prepare(
          "INSERT INTO devices (id, kind, model, adapter_id, secret_hash, enabled, created_at) VALUES ('d-0002', 'toaster', 'm', 'a', 'h', 1, ?)",
        )
        .run(T),
    ).toThrow(/CHECK/);
  });
});
