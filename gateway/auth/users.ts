import { randomBytes } from 'node:crypto';
import { sqliteErrorCode, type Database } from '../db/sqlite.js';
import { AuthError, NewUserSchema, PasswordSchema, UsernameSchema, parseOrFail, type NewUser, type Role, type User } from './model.js';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, verifyPassword, type ScryptParams } from './password.js';

/*
 * Users and the login check (issue 6 item 2). Style as gateway/devices/registry.ts: commands throw AuthError for
 * expected failures, look-ups return undefined; time comes from deps.now.
 *
 * Lockout: `maxFailures` failed logins in a row for one username lock it for `lockMs`; the counter starts
 * again after a success, after a lock ends, or after `lockMs` without a failure. It is kept per username as
 * typed (login_attempts), so a name nobody has is counted and locked exactly like a real one, and an unknown
 * name costs the same scrypt verification as a known one (against a dummy hash): neither the answer nor its
 * timing tells whether the username exists. A locked name is refused without verifying the password.
 */

export interface UserStoreDeps {
  db: Database;
  /** Epoch ms. */
  now: () => number;
  lockout?: { maxFailures: number; lockMs: number };
  /** Cost of new hashes; tests use a cheap one. Existing hashes keep the parameters they were made with. */
  passwordParams?: ScryptParams;
}

export type LoginFailure = 'unknown_user' | 'bad_password' | 'disabled' | 'locked';

export type LoginResult =
  | { readonly ok: true; readonly user: User }
  | {
      readonly ok: false;
      readonly reason: LoginFailure;
      /** The user's id when the name exists (for the log and the audit trail, never for the client). */
      readonly userId: string | undefined;
      /** The name is locked now: it already was (reason `locked`), or this failure locked it. */
      readonly lockedUntil: number | undefined;
    };

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  enabled: number;
  password_hash: string;
  password_changed_at: string;
  created_at: string;
  updated_at: string;
  teams: string | null;
}

interface AttemptRow {
  failures: number;
  locked_until: string | null;
  last_failure_at: string;
}

export type UserStore = ReturnType<typeof createUserStore>;

const SELECT = `SELECT u.*, (SELECT group_concat(team_id, ' ') FROM (SELECT team_id FROM user_teams t WHERE t.user_id = u.id ORDER BY team_id)) AS teams FROM users u`;

export function createUserStore(deps: UserStoreDeps) {
  const { db } = deps;
  const lockout = deps.lockout ?? { maxFailures: 5, lockMs: 15 * 60_000 };
  const params = deps.passwordParams ?? DEFAULT_SCRYPT_PARAMS;
  const iso = (ms: number): string => new Date(ms).toISOString();

  const q = {
    byId: db.prepare<[string], UserRow>(`${SELECT} WHERE u.id = ?`),
    byName: db.prepare<[string], UserRow>(`${SELECT} WHERE u.username = ? COLLATE NOCASE`),
    all: db.prepare<[], UserRow>(`${SELECT} ORDER BY u.username COLLATE NOCASE`),
    insert: db.prepare(
      `INSERT INTO users (id, username, display_name, role, enabled, password_hash, password_changed_at, created_at, updated_at)
       VALUES (@id, @username, @displayName, @role, 1, @hash, @at, @at, @at)`,
    ),
    insertTeam: db.prepare('INSERT INTO user_teams (user_id, team_id) VALUES (?, ?)'),
    setEnabled: db.prepare('UPDATE users SET enabled = ?, updated_at = ? WHERE id = ?'),
    setHash: db.prepare('UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?'),
    dropSessions: db.prepare('DELETE FROM user_sessions WHERE user_id = ?'),
    attempt: db.prepare<[string], AttemptRow>('SELECT failures, locked_until, last_failure_at FROM login_attempts WHERE username_key = ?'),
    saveAttempt: db.prepare(
      `INSERT INTO login_attempts (username_key, failures, locked_until, last_failure_at) VALUES (@key, @failures, @lockedUntil, @at)
       ON CONFLICT (username_key) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until,
         last_failure_at = excluded.last_failure_at`,
    ),
    clearAttempt: db.prepare('DELETE FROM login_attempts WHERE username_key = ?'),
    pruneAttempts: db.prepare(
      'DELETE FROM login_attempts WHERE last_failure_at < @before AND (locked_until IS NULL OR locked_until < @now)',
    ),
  };

  // Verified against when the username is unknown, so that case costs what a real check costs.
  let dummyHash: Promise<string> | undefined;
  const dummy = (): Promise<string> => (dummyHash ??= hashPassword(randomBytes(16).toString('hex'), params));

  const toUser = (r: UserRow): User => ({
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    role: r.role,
    teams: r.teams === null ? [] : r.teams.split(' '),
    enabled: r.enabled === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    passwordChangedAt: r.password_changed_at,
  });

  const requireByName = (username: string): UserRow => {
    const row = q.byName.get(username);
    if (!row) throw new AuthError('TRY_ERR_USER_NOT_FOUND', `user ${username} not found`);
    return row;
  };

  /** The lock state of a username at `now`: its failures so far (0 after a lock or a quiet period). */
  const stateOf = (key: string, now: number): { failures: number; lockedUntil: number | undefined } => {
    const row = q.attempt.get(key);
    if (!row) return { failures: 0, lockedUntil: undefined };
    const lockedUntil = row.locked_until === null ? undefined : Date.parse(row.locked_until);
    if (lockedUntil !== undefined && lockedUntil > now) return { failures: row.failures, lockedUntil };
    if (lockedUntil !== undefined || Date.parse(row.last_failure_at) + lockout.lockMs <= now)
      return { failures: 0, lockedUntil: undefined };
    return { failures: row.failures, lockedUntil: undefined };
  };

  const recordFailure = (key: string, now: number): number | undefined =>
    guard('recording a failed login', () =>
      db
        .transaction(() => {
          const failures = stateOf(key, now).failures + 1;
          const lockedUntil = failures >= lockout.maxFailures ? now + lockout.lockMs : undefined;
          q.saveAttempt.run({
            key,
            failures: lockedUntil === undefined ? failures : 0,
            lockedUntil: lockedUntil === undefined ? null : iso(lockedUntil),
            at: iso(now),
          });
          // Names nobody typed for a while (mostly unknown ones) are forgotten, so the table stays small.
          q.pruneAttempts.run({ before: iso(now - lockout.lockMs), now: iso(now) });
          return lockedUntil;
        })
        .immediate(),
    );

  return {
    async add(input: NewUser, password: string): Promise<User> {
      const u = parseOrFail(NewUserSchema, input);
      parseOrFail(PasswordSchema, password);
      const hash = await hashPassword(password, params);
      const id = `u-${randomBytes(6).toString('hex')}`;
      const at = iso(deps.now());
      guard(
        'adding a user',
        () =>
          db.transaction(() => {
            q.insert.run({ id, username: u.username, displayName: u.displayName ?? u.username, role: u.role, hash, at });
            for (const team of new Set(u.teams)) q.insertTeam.run(id, team);
          })(),
        (code) => (code === 'SQLITE_CONSTRAINT_UNIQUE' ? `user ${u.username} already exists` : undefined),
      );
      return toUser(q.byId.get(id) as UserRow);
    },

    get(id: string): User | undefined {
      const row = guard('reading a user', () => q.byId.get(id));
      return row && toUser(row);
    },

    findByUsername(username: string): User | undefined {
      if (!UsernameSchema.safeParse(username).success) return undefined;
      const row = guard('reading a user', () => q.byName.get(username));
      return row && toUser(row);
    },

    list: (): User[] => guard('listing users', () => q.all.all().map(toUser)),

    /** Until when the username is locked (epoch ms), or undefined. */
    lockedUntil: (username: string): number | undefined => stateOf(username.toLowerCase(), deps.now()).lockedUntil,

    /** Disabling also ends the user's sessions; the guard checks `enabled` at every request besides. */
    setEnabled(username: string, enabled: boolean): User {
      return guard('changing a user', () =>
        db.transaction(() => {
          const row = requireByName(username);
          q.setEnabled.run(enabled ? 1 : 0, iso(deps.now()), row.id);
          if (!enabled) q.dropSessions.run(row.id);
          return toUser(q.byId.get(row.id) as UserRow);
        })(),
      );
    },

    /** A new password ends every session of the user and lifts a lockout (an admin vouched for the person). */
    async setPassword(username: string, password: string): Promise<User> {
      parseOrFail(PasswordSchema, password);
      requireByName(username);
      const hash = await hashPassword(password, params);
      return guard('changing a password', () =>
        db.transaction(() => {
          const row = requireByName(username);
          const at = iso(deps.now());
          q.setHash.run(hash, at, at, row.id);
          q.dropSessions.run(row.id);
          q.clearAttempt.run(row.username.toLowerCase());
          return toUser(q.byId.get(row.id) as UserRow);
        })(),
      );
    },

    /** The login check. Unknown, wrong and disabled differ only in `reason`, which must not reach the client. */
    async login(username: string, password: string): Promise<LoginResult> {
      const key = username.toLowerCase();
      const locked = stateOf(key, deps.now()).lockedUntil;
      const row = UsernameSchema.safeParse(username).success ? guard('reading a user', () => q.byName.get(username)) : undefined;
      if (locked !== undefined) return { ok: false, reason: 'locked', userId: row?.id, lockedUntil: locked };
      // Awaited for every login, known name or not: the first login after start pays for making it, whoever it is.
      const fallback = await dummy();
      const matches = await verifyPassword(password, row?.password_hash ?? fallback);
      const now = deps.now();
      if (row && matches && row.enabled === 1) {
        guard('recording a login', () => q.clearAttempt.run(key));
        return { ok: true, user: toUser(row) };
      }
      const reason: LoginFailure = !row ? 'unknown_user' : !matches ? 'bad_password' : 'disabled';
      return { ok: false, reason, userId: row?.id, lockedUntil: recordFailure(key, now) };
    },
  };
}

/** Translates SQLite failures into AuthError at this boundary, keeping the original as `cause`. */
function guard<T>(what: string, fn: () => T, onUnique?: (code: string) => string | undefined): T {
  try {
    return fn();
  } catch (err) {
    const code = sqliteErrorCode(err);
    if (code === undefined) throw err;
    const exists = onUnique?.(code);
    if (exists !== undefined) throw new AuthError('TRY_ERR_USER_EXISTS', exists, { cause: err });
    throw new AuthError('TRY_ERR_AUTH_STORAGE', `${what} failed: ${code}`, { cause: err });
  }
}
