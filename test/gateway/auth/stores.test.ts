import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../gateway/auth/audit.js';
import { AuthError } from '../../../gateway/auth/model.js';
import { can, PERMISSIONS } from '../../../gateway/auth/roles.js';
import { createSessionStore } from '../../../gateway/auth/sessions.js';
import { createUserStore } from '../../../gateway/auth/users.js';
import { databasePath, openDatabase, type Database } from '../../../gateway/db/sqlite.js';

// The user, session and audit stores on a real SQLite file, on a fake clock.

const CHEAP = { ln: 10, r: 8, p: 1 };
const T0 = Date.parse('2026-03-10T08:00:00.000Z');
const MIN = 60_000;
const PASSWORD = 'correct horse battery staple';

let dir: string;
let db: Database;
const clock = { now: T0 };
const now = (): number => clock.now;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-auth-stores-'));
  db = openDatabase(databasePath(dir));
  clock.now = T0;
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const users = () => createUserStore({ db, now, passwordParams: CHEAP, lockout: { maxFailures: 3, lockMs: 10 * MIN } });

describe('migration', () => {
  it('is registered as versions 8 (tables) and 9 (wall-board sessions)', () => {
    const applied = db.prepare('SELECT version FROM schema_migrations').pluck().all();
    expect(applied).toEqual(expect.arrayContaining([8, 9]));
    const columns = db.prepare("SELECT name FROM pragma_table_info('user_sessions')").pluck().all();
    expect(columns).toContain('kind');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['users', 'user_teams', 'login_attempts', 'user_sessions', 'audit_log']));
  });
});

describe('user store', () => {
  it('keeps usernames unique without regard to case and finds them in any case', async () => {
    const store = users();
    const u = await store.add({ username: 'Nurse-A1', role: 'nurse', teams: ['team-a', 'team-a', 'team-b'] }, PASSWORD);
    expect(u).toMatchObject({ username: 'Nurse-A1', displayName: 'Nurse-A1', teams: ['team-a', 'team-b'], enabled: true });
    expect(store.findByUsername('nurse-a1')?.id).toBe(u.id);
    await expect(store.add({ username: 'NURSE-a1', role: 'nurse', teams: ['team-a'] }, PASSWORD)).rejects.toMatchObject({
      code: 'TRY_ERR_USER_EXISTS',
    });
    await expect(store.add({ username: 'x', role: 'nurse', teams: ['team-a'] }, PASSWORD)).rejects.toBeInstanceOf(AuthError);
    await expect(store.add({ username: 'tech-a1', role: 'technician', teams: [] }, PASSWORD)).rejects.toMatchObject({
      code: 'TRY_ERR_USER_INVALID_INPUT',
    });
  });

  it('locks after maxFailures in a row (fake clock), counts an unknown name the same, and forgets after a quiet lockMs', async () => {
    const store = users();
    await store.add({ username: 'nurse-a1', role: 'nurse', teams: ['team-a'] }, PASSWORD);
    const outcome = async (name: string, password: string) => {
      const r = await store.login(name, password);
      return r.ok ? 'ok' : `${r.reason}${r.lockedUntil === undefined ? '' : '+locked'}`;
    };
    expect([await outcome('nurse-a1', 'wrong'), await outcome('nurse-a1', 'wrong'), await outcome('nurse-a1', 'wrong')]).toEqual([
      'bad_password',
      'bad_password',
      'bad_password+locked',
    ]);
    expect(await outcome('nurse-a1', PASSWORD)).toBe('locked+locked');
    expect([await outcome('ghost-a1', 'x'), await outcome('ghost-a1', 'x'), await outcome('ghost-a1', 'x')]).toEqual([
      'unknown_user',
      'unknown_user',
      'unknown_user+locked',
    ]);
    expect(store.lockedUntil('NURSE-A1')).toBe(T0 + 10 * MIN);
    clock.now += 10 * MIN;
    expect(await outcome('nurse-a1', PASSWORD)).toBe('ok');

    // Two failures, then ten quiet minutes: the count starts again.
    await outcome('nurse-a1', 'wrong');
    await outcome('nurse-a1', 'wrong');
    clock.now += 10 * MIN;
    expect(await outcome('nurse-a1', 'wrong')).toBe('bad_password');
    // Forgotten names are pruned (ghost-a1's lock ended, nothing typed for ten minutes).
    const keys = db.prepare('SELECT username_key FROM login_attempts').pluck().all();
    expect(keys).toEqual(['nurse-a1']);
  });
});

describe('session store', () => {
  const sessions = () => createSessionStore({ db, now, idleMs: 30 * MIN, absoluteMs: 12 * 60 * MIN, boardMs: 7 * 24 * 60 * MIN });

  it('keeps only a hash of the id: neither the table nor the database file contains the cookie value', async () => {
    const store = sessions();
    const userId = (await users().add({ username: 'nurse-a1', role: 'nurse', teams: ['team-a'] }, PASSWORD)).id;
    const { id } = store.create(userId);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(db.prepare('SELECT * FROM user_sessions').all())).not.toContain(id);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(databasePath(dir)).includes(Buffer.from(id))).toBe(false);
    expect(store.use(id)).toMatchObject({ ok: true, session: { userId } });
    expect(store.use('A'.repeat(43))).toEqual({ ok: false, reason: 'unknown' });
    expect(store.use('not an id')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('idle and absolute timeouts on the fake clock; peek does not count as activity', async () => {
    const store = sessions();
    const userId = (await users().add({ username: 'nurse-a1', role: 'nurse', teams: ['team-a'] }, PASSWORD)).id;
    const { id } = store.create(userId);
    clock.now += 20 * MIN;
    expect(store.peek(id).ok).toBe(true);
    clock.now += 10 * MIN; // 30 min after the last *use*: peek did not restart the clock
    expect(store.use(id)).toEqual({ ok: false, reason: 'idle', userId });
    expect(store.countOf(userId)).toBe(0);

    const second = store.create(userId);
    const createdAt = clock.now;
    for (let i = 0; i < 40; i++) {
      clock.now += 20 * MIN;
      if (!store.use(second.id).ok) break;
    }
    expect(clock.now - createdAt).toBe(12 * 60 * MIN); // every request on time, ended by the absolute timeout
    expect(store.countOf(userId)).toBe(0);
    expect(() => createSessionStore({ db, now, idleMs: 60 * MIN, absoluteMs: 30 * MIN, boardMs: 7 * 24 * 60 * MIN })).toThrow(
      /idleMs <= absoluteMs/,
    );
  });
});

describe('audit log', () => {
  it('records entries with the clock and lists them newest first, filtered', () => {
    const audit = createAuditLog({ db, now });
    audit.record({
      actorType: 'user',
      actorId: 'u-000000000001',
      action: 'alert.view',
      targetType: 'alert',
      targetId: 'al-1',
      teamId: 'team-a',
      outcome: 'ok',
    });
    clock.now += MIN;
    audit.record({ actorType: 'anonymous', actorId: null, action: 'session.login', outcome: 'failed', detail: { reason: 'unknown_user' } });
    expect(audit.list().map((e) => [e.at, e.action, e.outcome])).toEqual([
      ['2026-03-10T08:01:00.000Z', 'session.login', 'failed'],
      ['2026-03-10T08:00:00.000Z', 'alert.view', 'ok'],
    ]);
    expect(audit.list({ targetId: 'al-1' })).toHaveLength(1);
    expect(() => audit.record({ actorType: 'user', actorId: 'x', action: 'not.an.action' as 'alert.view', outcome: 'ok' })).toThrow();
  });
});

describe('role matrix', () => {
  it('gives user management to admins only and care data to no technician', () => {
    expect(PERMISSIONS['users.manage']).toEqual(['admin']);
    expect(can('technician', 'alerts.read')).toBe(false);
    expect(can('technician', 'devices.write')).toBe(true);
    expect(can('nurse', 'reports.read')).toBe(false);
    expect(can('team_lead', 'reports.read')).toBe(true);
  });
});
