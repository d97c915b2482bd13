/**
 * The schema's history. Append only: a migration that has shipped is never edited, because databases in the
 * field have already recorded it as applied. Each `up` runs in its own transaction.
 *
 * Conventions (kept portable so a PostgreSQL backend can replay the same intent):
 * - Times are ISO-8601 UTC text with milliseconds, exactly as `Date#toISOString()` writes them. The format is
 *   fixed width, so comparing the text compares the times (the assignment queries rely on it).
 * - Ids are opaque text checked by gateway/devices/ids.ts before they reach SQL.
 * - STRICT tables: SQLite otherwise stores whatever type it is handed.
 * - Changing a CHECK or a column type in SQLite means rebuilding the table (https://sqlite.org/lang_altertable.html,
 *   "other kinds of table schema changes"), which needs `PRAGMA foreign_keys = OFF` outside the transaction:
 *   such a migration sets `rebuildsTables`, and the runner runs `PRAGMA foreign_key_check` before committing.
 */
import { ALERTS_MIGRATION } from '../alerts/migration.js';
import { OUTBOX_CURSORS_MIGRATION } from '../alerts/outbox-migration.js';
import { AUTH_MIGRATION, BOARD_SESSIONS_MIGRATION } from '../auth/migration.js';
import { CARE_MIGRATION } from '../care/migration.js';
import { CARE_REVISION_MIGRATION } from '../care/revision-migration.js';
import { SERVICE_ACCOUNTS_MIGRATION } from '../devices/service-migration.js';
import { REGISTRY_VERSION_MIGRATION } from '../devices/version-migration.js';
import { SERVICE_ACCOUNTS_VERSION_MIGRATION } from '../devices/service-version-migration.js';
import { RULES_MIGRATION } from '../rules/migration.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: string;
  /** The migration drops and recreates tables that others reference: run it with foreign keys off. */
  readonly rebuildsTables?: boolean;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry',
    up: `
      CREATE TABLE homes (
        id         TEXT PRIMARY KEY,
        team_id    TEXT NOT NULL,
        time_zone  TEXT NOT NULL DEFAULT 'Europe/Oslo',
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE INDEX homes_team ON homes (team_id);

      CREATE TABLE devices (
        id                TEXT PRIMARY KEY,
        kind              TEXT NOT NULL CHECK (kind IN ('dispenser', 'lock', 'sensor', 'vitals', 'bridge')),
        model             TEXT NOT NULL,
        adapter_id        TEXT NOT NULL,
        secret_hash       TEXT NOT NULL,
        enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        created_at        TEXT NOT NULL,
        secret_rotated_at TEXT,
        -- Redundant as a key, but it is what lets bridge_children point at "a device whose kind is bridge".
        UNIQUE (id, kind)
      ) STRICT;

      -- Devices move between patients: the home a reading belongs to is the assignment open at that time.
      -- valid_to NULL is the current assignment; intervals are half-open [valid_from, valid_to).
      CREATE TABLE device_assignments (
        id         INTEGER PRIMARY KEY,
        device_id  TEXT NOT NULL REFERENCES devices (id),
        home_id    TEXT NOT NULL REFERENCES homes (id),
        valid_from TEXT NOT NULL,
        valid_to   TEXT,
        CHECK (valid_to IS NULL OR valid_to >= valid_from)
      ) STRICT;

      CREATE UNIQUE INDEX device_assignments_one_open ON device_assignments (device_id) WHERE valid_to IS NULL;
      CREATE INDEX device_assignments_device_time ON device_assignments (device_id, valid_from);
      CREATE INDEX device_assignments_home_open ON device_assignments (home_id) WHERE valid_to IS NULL;

      -- A hub (e.g. Zigbee2MQTT) connects as one bridge device and names its children by friendly name.
      -- bridge_kind is pinned to 'bridge' so the composite key only matches bridge devices.
      CREATE TABLE bridge_children (
        bridge_id     TEXT NOT NULL,
        bridge_kind   TEXT NOT NULL DEFAULT 'bridge' CHECK (bridge_kind = 'bridge'),
        friendly_name TEXT NOT NULL,
        device_id     TEXT NOT NULL UNIQUE REFERENCES devices (id),
        created_at    TEXT NOT NULL,
        PRIMARY KEY (bridge_id, friendly_name),
        FOREIGN KEY (bridge_id, bridge_kind) REFERENCES devices (id, kind),
        CHECK (device_id <> bridge_id)
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'observer-kind',
    rebuildsTables: true,
    // Widens devices.kind by 'observer' (a read-only recorder account, gateway/devices/ids.ts). Columns,
    // constraints and the (id, kind) key that bridge_children references are otherwise unchanged.
    up: `
      CREATE TABLE devices_v2 (
        id                TEXT PRIMARY KEY,
        kind              TEXT NOT NULL CHECK (kind IN ('dispenser', 'lock', 'sensor', 'vitals', 'bridge', 'observer')),
        model             TEXT NOT NULL,
        adapter_id        TEXT NOT NULL,
        secret_hash       TEXT NOT NULL,
        enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        created_at        TEXT NOT NULL,
        secret_rotated_at TEXT,
        UNIQUE (id, kind)
      ) STRICT;

      INSERT INTO devices_v2 (id, kind, model, adapter_id, secret_hash, enabled, created_at, secret_rotated_at)
        SELECT id, kind, model, adapter_id, secret_hash, enabled, created_at, secret_rotated_at FROM devices;
      DROP TABLE devices;
      ALTER TABLE devices_v2 RENAME TO devices;
    `,
  },
  // Each module's own tables, in the module (one file each, so they can be written side by side).
  CARE_MIGRATION,
  ALERTS_MIGRATION,
  RULES_MIGRATION,
  CARE_REVISION_MIGRATION,
  SERVICE_ACCOUNTS_MIGRATION,
  AUTH_MIGRATION,
  BOARD_SESSIONS_MIGRATION,
  REGISTRY_VERSION_MIGRATION,
  OUTBOX_CURSORS_MIGRATION,
  SERVICE_ACCOUNTS_VERSION_MIGRATION,
];
