import type { Migration } from '../db/migrations.js';

// A counter that moves with every change to what the ingest resolver caches (gateway/ingest/resolver.ts):
// a device's adapter, its assignment history, a bridge's children. The resolver used `PRAGMA data_version`,
// which moves with any other connection's commit to the file — the rule engine's state writes and the alert
// store commit several times a second under load — so its cache was dropped about every 200 ms and rebuilt
// from SQLite (11 % of the gateway's main thread in `npm run bench -- alerts`). Triggers keep the counter
// right for every writer, the CLI in another process included. A later migration that rebuilds one of these
// tables drops its triggers with it and must recreate them.
const TABLES = ['devices', 'device_assignments', 'bridge_children'] as const;
const OPS = ['INSERT', 'UPDATE', 'DELETE'] as const;

export const REGISTRY_VERSION_MIGRATION: Migration = {
  version: 10,
  name: 'registry-version',
  up: `
    CREATE TABLE registry_version (
      id      INTEGER PRIMARY KEY CHECK (id = 1),
      version INTEGER NOT NULL
    ) STRICT;
    INSERT INTO registry_version (id, version) VALUES (1, 0);
    ${TABLES.flatMap((t) =>
      OPS.map(
        (op) => `CREATE TRIGGER ${t}_${op.toLowerCase()}_version AFTER ${op} ON ${t}
      BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;`,
      ),
    ).join('\n    ')}
  `,
};
