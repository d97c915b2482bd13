import type { Migration } from '../db/migrations.js';

// The care tables (see gateway/db/migrations.ts for the conventions: STRICT tables, ISO-8601 UTC text times).
//
// Local times (dose times, the night window) are stored as `HH:MM` text, never as instants: a dose at 08:00 is
// at 08:00 on the wall clock every day, daylight-saving days included, and only the rules turn it into an
// instant for a given date in the home's time zone. Nothing here stores a default: a missing row (or a NULL
// window/grace) means "use the default", so gateway/care/defaults.ts is the one place they live.
export const CARE_MIGRATION: Migration = {
  version: 3,
  name: 'care-data',
  up: `
    -- One row per dose time. weekday_mask has bit (d - 1) set for ISO weekday d (1 = Monday … 7 = Sunday).
    -- NULL window/grace = the defaults. Conflicts (same time, same weekday; overlapping windows) are checked
    -- in gateway/care/schedule.ts, because they depend on the defaults and on wrapping past midnight.
    CREATE TABLE care_doses (
      id             INTEGER PRIMARY KEY,
      home_id        TEXT NOT NULL REFERENCES homes (id),
      local_time     TEXT NOT NULL CHECK (local_time GLOB '[0-2][0-9]:[0-5][0-9]' AND local_time < '24:00'),
      window_minutes INTEGER CHECK (window_minutes BETWEEN 1 AND 1440),
      grace_minutes  INTEGER CHECK (grace_minutes BETWEEN 0 AND 1440),
      weekday_mask   INTEGER NOT NULL CHECK (weekday_mask BETWEEN 1 AND 127),
      created_at     TEXT NOT NULL
    ) STRICT;

    CREATE INDEX care_doses_home ON care_doses (home_id, local_time);

    -- At most one per home; no row = the default night window. from = to would be empty or the whole day.
    CREATE TABLE care_night_windows (
      home_id    TEXT PRIMARY KEY REFERENCES homes (id),
      from_time  TEXT NOT NULL CHECK (from_time GLOB '[0-2][0-9]:[0-5][0-9]' AND from_time < '24:00'),
      to_time    TEXT NOT NULL CHECK (to_time GLOB '[0-2][0-9]:[0-5][0-9]' AND to_time < '24:00'),
      updated_at TEXT NOT NULL,
      CHECK (from_time <> to_time)
    ) STRICT;

    -- Planned staff visits, half-open [from_at, to_at). Re-importing the same plan is idempotent thanks to
    -- the UNIQUE key (INSERT OR IGNORE).
    CREATE TABLE care_visits (
      id         INTEGER PRIMARY KEY,
      home_id    TEXT NOT NULL REFERENCES homes (id),
      from_at    TEXT NOT NULL,
      to_at      TEXT NOT NULL,
      created_at TEXT NOT NULL,
      CHECK (to_at > from_at),
      UNIQUE (home_id, from_at, to_at)
    ) STRICT;

    CREATE INDEX care_visits_home_to ON care_visits (home_id, to_at);

    -- Per-rule parameters for one home; each rule validates them against its own schema.
    CREATE TABLE care_rule_overrides (
      home_id    TEXT NOT NULL REFERENCES homes (id),
      rule_id    TEXT NOT NULL,
      params     TEXT NOT NULL CHECK (json_valid(params) AND json_type(params) = 'object'),
      updated_at TEXT NOT NULL,
      PRIMARY KEY (home_id, rule_id)
    ) STRICT;
  `,
};
