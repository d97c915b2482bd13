import type { Migration } from '../db/migrations.js';

// A revision number per home that every change to its care data (or to its team or time zone) bumps, kept by
// triggers so that no writer can forget it — the CLI in another process included. The gateway's rule engine
// polls it (gateway/alerting.ts) to re-arm a home's dose deadlines when its plan changed.
const TABLES = ['care_doses', 'care_night_windows', 'care_visits', 'care_rule_overrides'] as const;

const bump = (table: string, op: 'INSERT' | 'UPDATE' | 'DELETE'): string => {
  const ref = op === 'DELETE' ? 'OLD' : 'NEW';
  return `
    CREATE TRIGGER ${table}_rev_${op.toLowerCase()} AFTER ${op} ON ${table} BEGIN
      INSERT INTO care_revisions (home_id, revision) VALUES (${ref}.home_id, 1)
        ON CONFLICT (home_id) DO UPDATE SET revision = revision + 1;
    END;`;
};

export const CARE_REVISION_MIGRATION: Migration = {
  version: 6,
  name: 'care-revisions',
  up: `
    CREATE TABLE care_revisions (
      home_id  TEXT PRIMARY KEY,
      revision INTEGER NOT NULL
    ) STRICT;
    ${TABLES.flatMap((t) => (['INSERT', 'UPDATE', 'DELETE'] as const).map((op) => bump(t, op))).join('\n')}
    CREATE TRIGGER homes_rev_update AFTER UPDATE OF team_id, time_zone ON homes BEGIN
      INSERT INTO care_revisions (home_id, revision) VALUES (NEW.id, 1)
        ON CONFLICT (home_id) DO UPDATE SET revision = revision + 1;
    END;
  `,
};
