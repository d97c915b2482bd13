import type { Migration } from '../db/migrations.js';

// The rules tables (see gateway/db/migrations.ts for the conventions: STRICT tables, ISO-8601 UTC text times).
// No foreign key to homes: rule state is keyed by the home id the events carried, and must survive (and be
// cleaned up by the engine, not by a cascade) whatever the registry does meanwhile.
export const RULES_MIGRATION: Migration = {
  version: 5,
  name: 'rule-state',
  up: `
    -- One JSON state per (rule, home, subject). rule_version: a state written by another version of the rule
    -- is discarded on load rather than fed to code that does not know its shape.
    CREATE TABLE rule_state (
      rule         TEXT NOT NULL,
      home_id      TEXT NOT NULL,
      subject      TEXT NOT NULL,
      rule_version INTEGER NOT NULL,
      state        TEXT NOT NULL CHECK (json_valid(state)),
      updated_at   TEXT NOT NULL,
      PRIMARY KEY (rule, home_id, subject)
    ) STRICT;

    -- Pending timers. A row is deleted in the same transaction as the state update of its firing, so a
    -- timer fires exactly once across restarts; every row is re-armed at start (overdue ones fire at once).
    CREATE TABLE rule_timers (
      rule     TEXT NOT NULL,
      home_id  TEXT NOT NULL,
      subject  TEXT NOT NULL,
      key      TEXT NOT NULL,
      at       TEXT NOT NULL,
      -- 1 = armed by the engine from the care plan (a dose deadline): re-planning a home replaces these only.
      scheduled INTEGER NOT NULL DEFAULT 0 CHECK (scheduled IN (0, 1)),
      PRIMARY KEY (rule, home_id, subject, key)
    ) STRICT;

    CREATE INDEX rule_timers_at ON rule_timers (at);

    -- How far each (rule, home)'s schedule-based timers have been armed: re-arming continues from here, so a
    -- deadline that already fired (its row deleted) is never armed a second time.
    CREATE TABLE rule_schedules (
      rule        TEXT NOT NULL,
      home_id     TEXT NOT NULL,
      armed_until TEXT NOT NULL,
      PRIMARY KEY (rule, home_id)
    ) STRICT;
  `,
};
