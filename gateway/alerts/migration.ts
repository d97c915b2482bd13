import type { Migration } from '../db/migrations.js';

// The alerts tables (see gateway/db/migrations.ts for the conventions: STRICT tables, ISO-8601 UTC text times).
//
// - alerts: one row per alert; "open" means resolved_at IS NULL, and the partial unique index is what makes
//   "one open alert per (home, rule, subject)" hold even if two writers race. home_id is NULL for gateway-wide
//   technical alerts, and NULLs never collide in a unique index, hence coalesce(). No foreign key to homes: an
//   alert for a home the registry does not know must still be stored and routed (to the ops team), not refused.
// - The escalation schedule (next_escalation_at, next_reminder_at, overdue_at) is persisted, not held in timers,
//   so a restart neither loses nor repeats a step (issue 5: Grafana/ThingsBoard lose or delay these in memory).
// - alert_transitions is the audit trail; alert_outbox gets one row per transition in the same transaction.
//   AUTOINCREMENT so outbox ids are never reused even after old rows are pruned: SSE clients resume from them.
// - alert_outbox_deliveries records, per channel, what has been delivered: each channel consumes independently.
export const ALERTS_MIGRATION: Migration = {
  version: 4,
  name: 'alert-lifecycle',
  up: `
    CREATE TABLE alerts (
      id                 TEXT PRIMARY KEY,
      home_id            TEXT,
      team_id            TEXT NOT NULL,
      rule               TEXT NOT NULL,
      subject            TEXT NOT NULL,
      kind               TEXT NOT NULL CHECK (kind IN ('care', 'technical')),
      severity           TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
      title              TEXT NOT NULL,
      state              TEXT NOT NULL CHECK (state IN ('active', 'cleared')),
      raised_at          TEXT NOT NULL,
      last_seen_at       TEXT NOT NULL,
      count              INTEGER NOT NULL CHECK (count >= 1),
      cleared_at         TEXT,
      evidence           TEXT NOT NULL DEFAULT '[]',
      evidence_dropped   INTEGER NOT NULL DEFAULT 0,
      acknowledged_at    TEXT,
      acknowledged_by    TEXT,
      ack_note           TEXT,
      resolved_at        TEXT,
      resolved_by        TEXT,
      outcome            TEXT CHECK (outcome IN ('visited_ok', 'visited_action_taken', 'contacted_by_phone', 'false_alarm', 'technical_fixed', 'other')),
      resolve_note       TEXT,
      ack_due_at         TEXT NOT NULL,
      follow_up_due_at   TEXT NOT NULL,
      escalation_level   INTEGER NOT NULL DEFAULT 0 CHECK (escalation_level >= 0),
      next_escalation_at TEXT,
      next_reminder_at   TEXT,
      reminders          INTEGER NOT NULL DEFAULT 0,
      overdue_at         TEXT,
      CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL)),
      CHECK ((resolved_at IS NULL) = (outcome IS NULL)),
      CHECK ((resolved_at IS NULL) = (resolved_by IS NULL)),
      -- Resolving implies someone looked at it: resolve() records an acknowledgement first if there was none.
      CHECK (resolved_at IS NULL OR acknowledged_at IS NOT NULL)
    ) STRICT;

    CREATE UNIQUE INDEX alerts_one_open ON alerts (coalesce(home_id, ''), rule, subject) WHERE resolved_at IS NULL;
    CREATE INDEX alerts_team_raised ON alerts (team_id, raised_at);
    CREATE INDEX alerts_raised ON alerts (raised_at);
    CREATE INDEX alerts_next_escalation ON alerts (next_escalation_at) WHERE next_escalation_at IS NOT NULL;
    CREATE INDEX alerts_next_reminder ON alerts (next_reminder_at) WHERE next_reminder_at IS NOT NULL;
    CREATE INDEX alerts_follow_up_due ON alerts (follow_up_due_at) WHERE resolved_at IS NULL AND overdue_at IS NULL;

    CREATE TABLE alert_transitions (
      id       INTEGER PRIMARY KEY,
      alert_id TEXT NOT NULL REFERENCES alerts (id),
      type     TEXT NOT NULL CHECK (type IN ('raised', 'deduped', 'cleared', 'acknowledged', 'resolved', 'escalated', 'reminded', 'overdue')),
      at       TEXT NOT NULL,
      actor    TEXT NOT NULL,
      severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
      detail   TEXT NOT NULL DEFAULT '{}'
    ) STRICT;

    CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id, id);

    CREATE TABLE alert_outbox (
      id            INTEGER PRIMARY KEY AUTOINCREMENT,
      transition_id INTEGER NOT NULL UNIQUE REFERENCES alert_transitions (id),
      team_id       TEXT NOT NULL,
      severity      TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
      created_at    TEXT NOT NULL,
      payload       TEXT NOT NULL
    ) STRICT;

    CREATE TABLE alert_outbox_deliveries (
      channel      TEXT NOT NULL,
      outbox_id    INTEGER NOT NULL REFERENCES alert_outbox (id),
      delivered_at TEXT NOT NULL,
      PRIMARY KEY (channel, outbox_id)
    ) STRICT, WITHOUT ROWID;
  `,
};
