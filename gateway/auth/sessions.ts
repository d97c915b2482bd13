import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/sqlite.js';

/*
 * Server-side sessions in SQLite (issue 6 item 2). The cookie carries an opaque 256-bit random id; the table
 * keeps only its SHA-256, so neither a backup nor a read of the database yields a session anyone could use.
 * A session ends at whichever comes first: `idleMs` after the last request that used it, `absoluteMs` after
 * login, logout, the user being disabled or given a new password. Time is deps.now (tests use a fake clock).
 * A wall-board session (`kind: 'board'`, the team room's screen) has no idle timeout — nobody touches it — and
 * ends `boardMs` after login; the guard lets it read alerts and nothing else.
 */

export interface SessionStoreDeps {
  db: Database;
  /** Epoch ms. */
  now: () => number;
  idleMs: number;
  absoluteMs: number;
  /** A wall-board session's lifetime (no idle timeout). */
  boardMs: number;
}

export type SessionKind = 'user' | 'board';

export interface Session {
  /** SHA-256 of the cookie value: what logs may never show either, but safe to keep in memory and the table. */
  readonly key: string;
  readonly userId: string;
  readonly kind: SessionKind;
  readonly csrfSecret: string | null;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
}

export type SessionLookup =
  | { readonly ok: true; readonly session: Session }
  | { readonly ok: false; readonly reason: 'malformed' | 'unknown' | 'idle' | 'absolute'; readonly userId?: string };

interface Row {
  id_hash: string;
  user_id: string;
  kind: SessionKind;
  csrf_secret: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

export type SessionStore = ReturnType<typeof createSessionStore>;

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function createSessionStore(deps: SessionStoreDeps) {
  const { db } = deps;
  if (!(deps.idleMs > 0 && deps.absoluteMs >= deps.idleMs)) throw new Error('session timeouts: need 0 < idleMs <= absoluteMs');
  const iso = (ms: number): string => new Date(ms).toISOString();
  const q = {
    insert: db.prepare(
      'INSERT INTO user_sessions (id_hash, user_id, kind, csrf_secret, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, NULL, ?, ?, ?)',
    ),
    get: db.prepare<[string], Row>('SELECT * FROM user_sessions WHERE id_hash = ?'),
    touch: db.prepare('UPDATE user_sessions SET last_seen_at = ? WHERE id_hash = ?'),
    csrf: db.prepare('UPDATE user_sessions SET csrf_secret = ? WHERE id_hash = ?'),
    delete: db.prepare('DELETE FROM user_sessions WHERE id_hash = ?'),
    prune: db.prepare("DELETE FROM user_sessions WHERE expires_at <= ? OR (kind = 'user' AND last_seen_at <= ?)"),
    count: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM user_sessions WHERE user_id = ?'),
  };

  const keyOf = (id: string): string => createHash('sha256').update(id, 'utf8').digest('hex');
  /** Why a session has ended at `now`, or undefined while it lives. */
  const endedBy = (s: Session, now: number): 'absolute' | 'idle' | undefined =>
    now >= s.expiresAt ? 'absolute' : s.kind === 'user' && now >= s.lastSeenAt + deps.idleMs ? 'idle' : undefined;

  const toSession = (r: Row): Session => ({
    key: r.id_hash,
    userId: r.user_id,
    kind: r.kind,
    csrfSecret: r.csrf_secret,
    createdAt: Date.parse(r.created_at),
    lastSeenAt: Date.parse(r.last_seen_at),
    expiresAt: Date.parse(r.expires_at),
  });

  /** Finds the session of a cookie value at deps.now(); an expired one is deleted on the way. */
  const lookup = (id: string, touch: boolean): SessionLookup => {
    if (!ID_PATTERN.test(id)) return { ok: false, reason: 'malformed' };
    const key = keyOf(id);
    const row = q.get.get(key);
    if (!row) return { ok: false, reason: 'unknown' };
    const session = toSession(row);
    const now = deps.now();
    const reason = endedBy(session, now);
    if (reason !== undefined) {
      q.delete.run(key);
      return { ok: false, reason, userId: session.userId };
    }
    if (!touch) return { ok: true, session };
    q.touch.run(iso(now), key);
    return { ok: true, session: { ...session, lastSeenAt: now } };
  };

  return {
    /** A new session with a fresh id (a login never reuses an id the client already had). */
    create(userId: string, kind: SessionKind = 'user'): { id: string; session: Session } {
      const now = deps.now();
      // Sessions that ended without a logout are removed here, so the table does not grow with them.
      q.prune.run(iso(now), iso(now - deps.idleMs));
      const id = randomBytes(32).toString('base64url');
      const key = keyOf(id);
      q.insert.run(key, userId, kind, iso(now), iso(now), iso(now + (kind === 'board' ? deps.boardMs : deps.absoluteMs)));
      return { id, session: toSession(q.get.get(key) as Row) };
    },

    /** For a request: checks the timeouts and counts the request as activity (the idle timeout restarts). */
    use: (id: string): SessionLookup => lookup(id, true),

    /** Checks without counting as activity (an open live stream re-checks its session this way). */
    peek: (id: string): SessionLookup => lookup(id, false),

    /** Re-reads a session by key, without touching it; undefined once it ended or expired. */
    byKey(key: string): Session | undefined {
      const row = q.get.get(key);
      if (!row) return undefined;
      const s = toSession(row);
      return endedBy(s, deps.now()) === undefined ? s : undefined;
    },

    setCsrfSecret(key: string, secret: string): void {
      q.csrf.run(secret, key);
    },

    /** Logout. Unknown or malformed ids are ignored. */
    destroy(id: string): void {
      if (ID_PATTERN.test(id)) q.delete.run(keyOf(id));
    },

    destroyByKey(key: string): void {
      q.delete.run(key);
    },

    countOf: (userId: string): number => q.count.get(userId)?.n ?? 0,
  };
}
