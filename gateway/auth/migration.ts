import type { Migration } from '../db/migrations.js';

// Dashboard logins, sessions and the audit log (issue 6 item 2); conventions in gateway/db/migrations.ts.
//
// - users.username is unique without regard to case (NOCASE; usernames are ASCII, gateway/auth/model.ts).
// - login_attempts counts failures per username as typed (lower-cased), not per user row: an unknown name is
//   counted and locked exactly like a real one, so the lockout cannot tell anyone which usernames exist.
// - user_sessions keeps a SHA-256 of the session id, never the id itself: a copy of the database (a backup)
//   holds no usable session. csrf_secret is the session's @fastify/csrf-protection secret.
// - audit_log: who viewed which team's or home's data and who changed what. Append-only by convention; no
//   foreign keys, so an entry outlives the user, alert or home it names.
export const AUTH_MIGRATION: Migration = {
  version: 8,
  name: 'dashboard-auth',
  up: `
    CREATE TABLE users (
      id                  TEXT PRIMARY KEY,
      username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
      display_name        TEXT NOT NULL,
      role                TEXT NOT NULL CHECK (role IN ('nurse', 'team_lead', 'technician', 'admin')),
      enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
      password_hash       TEXT NOT NULL,
      password_changed_at TEXT NOT NULL,
      created_at          TEXT NOT NULL,
      updated_at          TEXT NOT NULL
    ) STRICT;

    CREATE TABLE user_teams (
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      team_id TEXT NOT NULL,
      PRIMARY KEY (user_id, team_id)
    ) STRICT, WITHOUT ROWID;

    CREATE INDEX user_teams_team ON user_teams (team_id);

    CREATE TABLE login_attempts (
      username_key    TEXT PRIMARY KEY,
      failures        INTEGER NOT NULL CHECK (failures >= 0),
      locked_until    TEXT,
      last_failure_at TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE INDEX login_attempts_last_failure ON login_attempts (last_failure_at);

    CREATE TABLE user_sessions (
      id_hash      TEXT PRIMARY KEY,
      user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      csrf_secret  TEXT,
      created_at   TEXT NOT NULL,
      last_seen_at TEXT NOT NULL,
      expires_at   TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE INDEX user_sessions_user ON user_sessions (user_id);
    CREATE INDEX user_sessions_expires ON user_sessions (expires_at);

    CREATE TABLE audit_log (
      id          INTEGER PRIMARY KEY,
      at          TEXT NOT NULL,
      actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'service', 'cli', 'anonymous')),
      actor_id    TEXT,
      action      TEXT NOT NULL,
      target_type TEXT,
      target_id   TEXT,
      team_id     TEXT,
      outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
      detail      TEXT NOT NULL DEFAULT '{}'
    ) STRICT;

    CREATE INDEX audit_log_at ON audit_log (at);
    CREATE INDEX audit_log_actor ON audit_log (actor_id, at);
    CREATE INDEX audit_log_target ON audit_log (target_type, target_id, at);
  `,
};

// Wall-board sessions (the team room's "tavle", docs/adr/009-dashboard-auth.md): a session opened for a screen
// nobody touches. Read-only (alert list and stream), no idle timeout, ended by its own absolute timeout.
export const BOARD_SESSIONS_MIGRATION: Migration = {
  version: 9,
  name: 'board-sessions',
  up: `
    ALTER TABLE user_sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'board'));
  `,
};
