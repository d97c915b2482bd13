import { CommanderError, Option, type Command } from 'commander';
import { createAuditLog, type AuditLog } from '../auth/audit.js';
import { AuthError, ROLES, type Role, type User } from '../auth/model.js';
import { generatePassword, type ScryptParams } from '../auth/password.js';
import { createUserStore, type UserStore } from '../auth/users.js';
import { DatabaseError, databasePath, openDatabase } from '../db/sqlite.js';
import { createDeviceRegistry, type DeviceRegistry } from '../devices/registry.js';
import type { CliContext } from './context.js';
import { EXIT_FAILURE, printJson, printTable } from './devices.js';

// `tryggheim users …`: dashboard logins (issue 6 item 2) — nurses, team leads, technicians, admins. A password is
// generated and shown once (or read from stdin with --password-stdin, never from an argument: arguments end up in
// shell history and `ps`). Every change is written to the audit log with actor `cli`; the running gateway sees it
// at the user's next request (a disabled user's sessions end at once).

export interface UserCommandDeps {
  /** Epoch ms; tests inject their clock. */
  readonly now?: () => number;
  /** The whole of standard input (tests inject it). */
  readonly readStdin?: () => Promise<string>;
  /** Cost of new password hashes; tests use a cheap one. */
  readonly passwordParams?: ScryptParams;
}

interface Session {
  users: UserStore;
  audit: AuditLog;
  registry: DeviceRegistry;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Opens the database for one command; expected failures become one line naming the code, and exit code 1. */
async function withUsers<T>(ctx: CliContext, deps: UserCommandDeps, fn: (s: Session) => Promise<T> | T): Promise<T> {
  const config = ctx.config();
  const now = deps.now ?? (() => Date.now());
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    db = openDatabase(databasePath(config.dataDir));
    const lockout = { maxFailures: config.http.auth.lockout.maxFailures, lockMs: config.http.auth.lockout.lockMinutes * 60_000 };
    const users = createUserStore({ db, now, lockout, ...(deps.passwordParams ? { passwordParams: deps.passwordParams } : {}) });
    return await fn({ users, audit: createAuditLog({ db, now }), registry: createDeviceRegistry({ db }) });
  } catch (err) {
    if (err instanceof AuthError || err instanceof DatabaseError) {
      ctx.err(`error: ${err.message} (${err.code})`);
      throw new CommanderError(EXIT_FAILURE, err.code, err.message);
    }
    throw err;
  } finally {
    db?.close();
  }
}

/** The first line of stdin, without its line ending (a file or `printf` may or may not end with one). */
async function passwordFromStdin(deps: UserCommandDeps): Promise<string> {
  const text = await (deps.readStdin ?? readAll)();
  return text.split(/\r?\n/)[0] ?? '';
}

function printPassword(ctx: CliContext, username: string, password: string): void {
  ctx.out(`Password for ${username}:`);
  ctx.out(`  ${password}`);
  ctx.out('This password will not be shown again. Give it to the person directly (not by e-mail or chat);');
  ctx.out(`if it is lost, run: tryggheim users reset-password ${username}`);
}

function userRow(u: User, lockedUntil: number | undefined): string[] {
  const teams = u.role === 'admin' ? 'all' : u.teams.join(',');
  const locked = lockedUntil === undefined ? 'no' : `until ${new Date(lockedUntil).toISOString().slice(0, 16)}Z`;
  return [u.id, u.username, u.role, teams, u.enabled ? 'yes' : 'no', locked, u.createdAt.slice(0, 10)];
}

export function registerUserCommands(program: Command, ctx: CliContext, deps: UserCommandDeps = {}): void {
  const users = program.command('users').description('dashboard logins: nurses, team leads, technicians, admins');
  const cli = { actorType: 'cli', actorId: 'cli', targetType: 'user' } as const;

  users
    .command('add')
    .description('create a login and print its initial password (shown once)')
    .argument('<username>', 'what the person types to log in, e.g. nurse-a1 (3–64 letters, digits, . _ -; case-insensitive)')
    .addOption(new Option('--role <role>', 'what the user may do').choices(ROLES).makeOptionMandatory())
    .option('--team <teamId...>', 'team(s) whose homes and alerts the user sees (repeatable; not needed for admin)')
    .option('--display-name <name>', 'name shown in the dashboard (default: the username)')
    .option('--password-stdin', 'read the password from the first line of standard input instead of generating one')
    .option('--json', 'machine-readable output')
    .action(
      async (username: string, opts: { role: Role; team?: string[]; displayName?: string; passwordStdin?: boolean; json?: boolean }) => {
        const password = opts.passwordStdin ? await passwordFromStdin(deps) : generatePassword();
        await withUsers(ctx, deps, async (s) => {
          const user = await s.users.add({ username, role: opts.role, teams: opts.team ?? [], displayName: opts.displayName }, password);
          s.audit.record({ ...cli, action: 'user.add', targetId: user.id, outcome: 'ok', detail: { role: user.role } });
          const shown = opts.passwordStdin ? {} : { password };
          if (opts.json) return printJson(ctx, { user, ...shown });
          ctx.out(
            `User ${user.username} added (id ${user.id}, ${user.role}, teams ${user.role === 'admin' ? 'all' : user.teams.join(', ')}).`,
          );
          const known = new Set(s.registry.listHomes().map((h) => h.teamId));
          const unknown = user.teams.filter((t) => !known.has(t));
          // Not an error (a new team may get its homes later), but a misspelt team id would show nothing, silently.
          if (unknown.length > 0)
            ctx.out(`Note: no home belongs to ${unknown.join(', ')} yet; check the spelling unless that is expected.`);
          if (!opts.passwordStdin) printPassword(ctx, user.username, password);
        });
      },
    );

  users
    .command('list')
    .description('list logins: id, role, teams, enabled, locked out')
    .option('--team <teamId>', 'only users of this team')
    .option('--json', 'machine-readable output')
    .action(async (opts: { team?: string; json?: boolean }) => {
      await withUsers(ctx, deps, (s) => {
        const list = s.users.list().filter((u) => opts.team === undefined || u.teams.includes(opts.team));
        if (opts.json) return printJson(ctx, list);
        if (list.length === 0) return ctx.out('no users');
        printTable(
          ctx,
          ['ID', 'USERNAME', 'ROLE', 'TEAMS', 'ENABLED', 'LOCKED', 'CREATED'],
          list.map((u) => userRow(u, s.users.lockedUntil(u.username))),
        );
      });
    });

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    users
      .command(name)
      .description(enabled ? 'allow the user to log in again' : 'refuse the user at once: no new logins, open sessions end')
      .argument('<username>')
      .action(async (username: string) => {
        await withUsers(ctx, deps, (s) => {
          const user = s.users.setEnabled(username, enabled);
          s.audit.record({ ...cli, action: enabled ? 'user.enable' : 'user.disable', targetId: user.id, outcome: 'ok' });
          ctx.out(`User ${user.username} ${enabled ? 'enabled' : 'disabled; their sessions have ended'}.`);
        });
      });
  }

  users
    .command('reset-password')
    .description('set a new password (generated and shown once, or from stdin); ends the sessions and lifts a lockout')
    .argument('<username>')
    .option('--password-stdin', 'read the password from the first line of standard input instead of generating one')
    .option('--json', 'machine-readable output')
    .action(async (username: string, opts: { passwordStdin?: boolean; json?: boolean }) => {
      const password = opts.passwordStdin ? await passwordFromStdin(deps) : generatePassword();
      await withUsers(ctx, deps, async (s) => {
        const user = await s.users.setPassword(username, password);
        s.audit.record({ ...cli, action: 'user.password_reset', targetId: user.id, outcome: 'ok' });
        if (opts.json) return printJson(ctx, { user, ...(opts.passwordStdin ? {} : { password }) });
        ctx.out(`Password of ${user.username} replaced; their sessions have ended and a lockout is lifted.`);
        if (!opts.passwordStdin) printPassword(ctx, user.username, password);
      });
    });
}
