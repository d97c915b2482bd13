import type { Migration } from '../db/migrations.js';

// Per-channel delivery cursors for the alert outbox (conventions: gateway/db/migrations.ts).
//
// - alert_outbox_cursors: every outbox id up to delivered_through is delivered for the channel, so reading what
//   a channel has pending starts after it instead of checking alert_outbox_deliveries from the first row ever
//   written. Delivery rows above the cursor still record entries delivered out of order (MQTT marks one team's
//   events while another team's list publish is retried). A channel with no row starts at the outbox's end when
//   it first asks (a newly configured webhook is not sent years of history).
// - Existing channels (those with delivery rows) start where their contiguous delivered prefix ends: the smallest
//   id not delivered for them, minus one, or the last id when they have delivered everything. Nothing they still
//   had pending is skipped. Outbox rows were never deleted before this migration, so the prefix has no holes.
// - The index on outbox_id lets pruning delete delivery rows by outbox id and keeps the foreign-key check of
//   each deleted alert_outbox row from scanning every delivery row.
export const OUTBOX_CURSORS_MIGRATION: Migration = {
  version: 11,
  name: 'alert-outbox-cursors',
  up: `
    CREATE TABLE alert_outbox_cursors (
      channel           TEXT PRIMARY KEY,
      delivered_through INTEGER NOT NULL CHECK (delivered_through >= 0)
    ) STRICT, WITHOUT ROWID;

    INSERT INTO alert_outbox_cursors (channel, delivered_through)
      SELECT c.channel, coalesce(
        (SELECT o.id - 1 FROM alert_outbox o
          WHERE NOT EXISTS (SELECT 1 FROM alert_outbox_deliveries d WHERE d.channel = c.channel AND d.outbox_id = o.id)
          ORDER BY o.id LIMIT 1),
        (SELECT max(id) FROM alert_outbox))
      FROM (SELECT DISTINCT channel FROM alert_outbox_deliveries) c;

    CREATE INDEX alert_outbox_deliveries_outbox ON alert_outbox_deliveries (outbox_id);
  `,
};
