import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../gateway/auth/audit.js';
import type { User } from '../../../gateway/auth/model.js';
import { createSessionStore } from '../../../gateway/auth/sessions.js';
import { createUserStore, type LoginResult } from '../../../gateway/auth/users.js';
import type { CliContext } from '../../../gateway/cli/context.js';
import { buildProgram } from '../../../gateway/cli/main.js';
import { registerUserCommands } from '../../../gateway/cli/users.js';
import { ConfigSchema, type Config } from '../../../gateway/config/schema.js';
import { databasePath, openDatabase } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';

// `tryggheim users …` in-process against a real SQLite file in a temp data dir, with a cheap scrypt cost and
// standard input the test supplies.

const CHEAP = { ln: 10, r: 8, p: 1 };
const T0 = Date.parse('2026-03-10T08:00:00.000Z');
const GENERATED = /\b[a-z2-9]{5}-[a-z2-9]{5}-[a-z2-9]{5}-[a-z2-9]{5}\b/g;

let dataDir: string;
let config: Config;
const clock = { now: T0 };

interface Run {
  out: string[];
  err: string[];
  exitCode: number;
  text: string;
}

async function cli(args: string[], stdin = ''): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = { config: () => config, out: (line) => out.push(line), err: (line) => err.push(line) };
  const program = new Command('tryggheim')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s.trimEnd()), writeErr: (s) => err.push(s.trimEnd()) });
  registerUserCommands(program, ctx, { now: () => clock.now, readStdin: () => Promise.resolve(stdin), passwordParams: CHEAP });
  let exitCode = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    exitCode = e.exitCode;
  }
  return { out, err, exitCode, text: out.join('\n') };
}

async function ok(args: string[], stdin?: string): Promise<Run> {
  const run = await cli(args, stdin);
  expect(run.err, `${args.join(' ')} wrote to stderr`).toEqual([]);
  expect(run.exitCode).toBe(0);
  return run;
}

/** An expected failure: exit code 1, exactly one line on stderr, nothing on stdout. */
async function fails(args: string[], stdin?: string): Promise<string> {
  const run = await cli(args, stdin);
  expect(run.exitCode, args.join(' ')).toBe(1);
  expect(run.err).toHaveLength(1);
  expect(run.out).toEqual([]);
  return run.err[0] ?? '';
}

/** What the gateway would see: the stores on their own connection. */
async function withDb<T>(fn: (s: ReturnType<typeof stores>) => T | Promise<T>): Promise<T> {
  const db = openDatabase(databasePath(dataDir));
  try {
    return await fn(stores(db));
  } finally {
    db.close();
  }
}
function stores(db: ReturnType<typeof openDatabase>) {
  const now = () => clock.now;
  return {
    db,
    users: createUserStore({ db, now, passwordParams: CHEAP }),
    sessions: createSessionStore({ db, now, idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000, boardMs: 168 * 3_600_000 }),
    audit: createAuditLog({ db, now }),
  };
}
const tryLogin = (username: string, password: string): Promise<LoginResult> => withDb((s) => s.users.login(username, password));

function passwordIn(run: Run): string {
  const found = run.text.match(GENERATED) ?? [];
  expect(found).toHaveLength(1);
  return found[0] ?? '';
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-cli-users-'));
  config = ConfigSchema.parse({ dataDir });
  clock.now = T0;
  const db = openDatabase(databasePath(dataDir));
  createDeviceRegistry({ db }).addHome({ id: 'home-0001', teamId: 'team-north' });
  db.close();
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('tryggheim users', () => {
  it('is registered in the main program', () => {
    const ctx: CliContext = { config: () => config, out: () => undefined, err: () => undefined };
    expect(buildProgram(ctx).commands.map((c) => c.name())).toContain('users');
  });

  it('add prints the generated password once; it logs in; only its hash is stored', async () => {
    const run = await ok(['users', 'add', 'nurse-a1', '--role', 'nurse', '--team', 'team-north', '--display-name', 'Nurse A']);
    const password = passwordIn(run);
    expect(run.text).toMatch(/User nurse-a1 added \(id u-[0-9a-f]{12}, nurse, teams team-north\)/);
    expect(run.text).toContain('will not be shown again');
    const login = await tryLogin('Nurse-A1', password);
    expect(login.ok && login.user).toMatchObject({ username: 'nurse-a1', displayName: 'Nurse A', role: 'nurse', teams: ['team-north'] });
    const stored = await withDb((s) => s.db.prepare('SELECT password_hash FROM users').pluck().get() as string);
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(stored).not.toContain(password);
  });

  it('add --password-stdin takes the first line of standard input and prints no password', async () => {
    const run = await ok(
      ['users', 'add', 'lead-a1', '--role', 'team_lead', '--team', 'team-north', '--team', 'team-south', '--password-stdin'],
      'a long enough passphrase\n',
    );
    expect(run.text.match(GENERATED)).toBeNull();
    expect(run.text).toContain('Note: no home belongs to team-south yet');
    const login = await tryLogin('lead-a1', 'a long enough passphrase');
    expect(login.ok && login.user.teams).toEqual(['team-north', 'team-south']);
    expect(
      await fails(['users', 'add', 'lead-a2', '--role', 'team_lead', '--team', 'team-north', '--password-stdin'], 'too short\n'),
    ).toMatch(/^error: password must be at least 15 characters \(TRY_ERR_USER_INVALID_INPUT\)$/);
  });

  it('refuses a duplicate username in any case, a non-admin without a team, and an unknown role', async () => {
    await ok(['users', 'add', 'nurse-a1', '--role', 'nurse', '--team', 'team-north']);
    expect(await fails(['users', 'add', 'NURSE-A1', '--role', 'nurse', '--team', 'team-north'])).toContain('TRY_ERR_USER_EXISTS');
    expect(await fails(['users', 'add', 'nurse-a2', '--role', 'nurse'])).toContain('needs at least one team');
    expect((await cli(['users', 'add', 'x-a1', '--role', 'superuser'])).exitCode).not.toBe(0);
    await ok(['users', 'add', 'admin-1', '--role', 'admin']);
  });

  it('list shows id, role, teams, enabled and lockout; --json and --team', async () => {
    await ok(['users', 'add', 'nurse-a1', '--role', 'nurse', '--team', 'team-north']);
    await ok(['users', 'add', 'admin-1', '--role', 'admin']);
    for (let i = 0; i < 5; i++) await tryLogin('nurse-a1', 'wrong password, long enough');
    const table = (await ok(['users', 'list'])).out;
    expect(table[0]).toMatch(/^ID\s+USERNAME\s+ROLE\s+TEAMS\s+ENABLED\s+LOCKED\s+CREATED$/);
    expect(table[1]).toMatch(/^u-[0-9a-f]{12}\s+admin-1\s+admin\s+all\s+yes\s+no\s+2026-03-10$/);
    expect(table[2]).toMatch(/^u-[0-9a-f]{12}\s+nurse-a1\s+nurse\s+team-north\s+yes\s+until 2026-03-10T08:15Z\s+2026-03-10$/);
    const json = JSON.parse((await ok(['users', 'list', '--team', 'team-north', '--json'])).text) as User[];
    expect(json.map((u) => u.username)).toEqual(['nurse-a1']);
    expect(JSON.stringify(json)).not.toMatch(/scrypt|password_hash/);
  });

  it('disable refuses logins and ends open sessions; enable lets the user back; both are audited', async () => {
    const password = passwordIn(await ok(['users', 'add', 'nurse-a1', '--role', 'nurse', '--team', 'team-north']));
    const userId = await withDb(async (s) => {
      const login = await s.users.login('nurse-a1', password);
      if (!login.ok) throw new Error('login failed');
      s.sessions.create(login.user.id);
      return login.user.id;
    });
    expect((await ok(['users', 'disable', 'nurse-a1'])).text).toBe('User nurse-a1 disabled; their sessions have ended.');
    expect(await withDb((s) => s.sessions.countOf(userId))).toBe(0);
    expect(await tryLogin('nurse-a1', password)).toMatchObject({ ok: false, reason: 'disabled' });
    await ok(['users', 'enable', 'nurse-a1']);
    expect((await tryLogin('nurse-a1', password)).ok).toBe(true);
    const audit = await withDb((s) => s.audit.list({ targetId: userId }));
    expect(audit.map((e) => [e.actorType, e.actorId, e.action, e.outcome])).toEqual([
      ['cli', 'cli', 'user.enable', 'ok'],
      ['cli', 'cli', 'user.disable', 'ok'],
      ['cli', 'cli', 'user.add', 'ok'],
    ]);
  });

  it('reset-password replaces the password, ends sessions and lifts a lockout', async () => {
    const first = passwordIn(await ok(['users', 'add', 'nurse-a1', '--role', 'nurse', '--team', 'team-north']));
    for (let i = 0; i < 5; i++) await tryLogin('nurse-a1', 'wrong password, long enough');
    expect(await tryLogin('nurse-a1', first)).toMatchObject({ ok: false, reason: 'locked' });
    const second = passwordIn(await ok(['users', 'reset-password', 'nurse-a1']));
    expect(second).not.toBe(first);
    expect((await tryLogin('nurse-a1', first)).ok).toBe(false);
    expect((await tryLogin('nurse-a1', second)).ok).toBe(true);
    await ok(['users', 'reset-password', 'nurse-a1', '--password-stdin'], 'my own new passphrase\r\n');
    expect((await tryLogin('nurse-a1', 'my own new passphrase')).ok).toBe(true);
  });

  it('names an unknown user with its code', async () => {
    expect(await fails(['users', 'disable', 'nobody-x'])).toBe('error: user nobody-x not found (TRY_ERR_USER_NOT_FOUND)');
    expect(await fails(['users', 'reset-password', 'nobody-x'])).toContain('TRY_ERR_USER_NOT_FOUND');
  });
});
