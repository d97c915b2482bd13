import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../../../gateway/cli/context.js';
import { registerServiceAccountCommands } from '../../../gateway/cli/service-accounts.js';
import type { Config } from '../../../gateway/config/schema.js';
import { databasePath, openDatabase, sqliteErrorCode, type Database } from '../../../gateway/db/sqlite.js';
import { RegistryError, type RegistryErrorCode } from '../../../gateway/devices/model.js';
import { createDeviceRegistry, type DeviceRegistry } from '../../../gateway/devices/registry.js';

// Service accounts in the registry (migration 7, gateway/devices/service-migration.ts) and their CLI
// (`tryggheim service-accounts`), against a real SQLite file.

let dataDir: string;
let db: Database;
let clock: Date;
let registry: DeviceRegistry;

const T0 = new Date('2026-03-01T08:00:00.000Z');
const SECRET = /tgs_[A-Za-z0-9_-]{43}/g;

function code(fn: () => unknown): RegistryErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistryError) return err.code;
    throw err;
  }
  throw new Error('expected a RegistryError');
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-service-'));
  db = openDatabase(databasePath(dataDir));
  clock = T0;
  registry = createDeviceRegistry({ db, now: () => clock });
  registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  registry.addHome({ id: 'home-0002', teamId: 'team-south' });
});

afterEach(() => {
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('service accounts in the registry', () => {
  it('adds an account with a secret shown once; only a hash is stored; lists and gets it', () => {
    const { account, secret } = registry.addServiceAccount({ id: 'svc-north', teamId: 'team-north' });
    expect(account).toEqual({ id: 'svc-north', teamId: 'team-north', enabled: true, createdAt: T0.toISOString(), secretRotatedAt: null });
    expect(secret).toMatch(/^tgs_[A-Za-z0-9_-]{43}$/);
    const stored = db.prepare('SELECT secret_hash FROM service_accounts WHERE id = ?').pluck().get('svc-north') as string;
    expect(stored).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stored).not.toContain(secret);
    registry.addServiceAccount({ id: 'svc-south', teamId: 'team-south' });
    expect(registry.listServiceAccounts().map((a) => a.id)).toEqual(['svc-north', 'svc-south']);
    expect(registry.listServiceAccounts({ teamId: 'team-south' }).map((a) => a.id)).toEqual(['svc-south']);
    expect(registry.getServiceAccount('svc-north')).toEqual(account);
    expect(registry.getServiceAccount('svc-nope')).toBeUndefined();
    // Not devices: they never show up among them.
    expect(registry.listDevices()).toEqual([]);
    expect(registry.getDevice('svc-north')).toBeUndefined();
  });

  it('authenticates as a service principal with its team; a wrong secret, a disabled account and an unknown id are refused', () => {
    const { secret } = registry.addServiceAccount({ id: 'svc-north', teamId: 'team-north' });
    expect(registry.authenticate('svc-north', Buffer.from(secret))).toEqual({
      ok: true,
      principal: { kind: 'service', id: 'svc-north', teamId: 'team-north' },
    });
    expect(registry.authenticate('svc-north', Buffer.from(`${secret}x`))).toEqual({ ok: false, reason: 'bad_secret' });
    expect(registry.authenticate('svc-nope', Buffer.from(secret))).toEqual({ ok: false, reason: 'unknown_device' });
    registry.setServiceAccountEnabled('svc-north', false);
    // The secret is checked before `disabled` is told: a stranger cannot learn that the account exists.
    expect(registry.authenticate('svc-north', Buffer.from('tgs_wrong'))).toEqual({ ok: false, reason: 'bad_secret' });
    expect(registry.authenticate('svc-north', Buffer.from(secret))).toEqual({ ok: false, reason: 'disabled' });
    registry.setServiceAccountEnabled('svc-north', true);
    expect(registry.authenticate('svc-north', Buffer.from(secret)).ok).toBe(true);
  });

  it('rotates the secret: the old one stops working at once', () => {
    const { secret: old } = registry.addServiceAccount({ id: 'svc-north', teamId: 'team-north' });
    clock = new Date(T0.getTime() + 60_000);
    const fresh = registry.rotateServiceAccountSecret('svc-north');
    expect(fresh).not.toBe(old);
    expect(registry.authenticate('svc-north', Buffer.from(old))).toEqual({ ok: false, reason: 'bad_secret' });
    expect(registry.authenticate('svc-north', Buffer.from(fresh)).ok).toBe(true);
    expect(registry.getServiceAccount('svc-north')?.secretRotatedAt).toBe(clock.toISOString());
  });

  it('validates ids and refuses duplicates and unknown accounts with stable codes', () => {
    expect(code(() => registry.addServiceAccount({ id: 'Svc North', teamId: 'team-north' }))).toBe('TRY_ERR_INVALID_ID');
    expect(code(() => registry.addServiceAccount({ id: 'svc-north', teamId: '+' }))).toBe('TRY_ERR_INVALID_ID');
    expect(code(() => registry.addServiceAccount({ id: 'svc-north', teamId: 'team/north' }))).toBe('TRY_ERR_INVALID_ID');
    registry.addServiceAccount({ id: 'svc-north', teamId: 'team-north' });
    expect(code(() => registry.addServiceAccount({ id: 'svc-north', teamId: 'team-south' }))).toBe('TRY_ERR_SERVICE_ACCOUNT_EXISTS');
    expect(code(() => registry.setServiceAccountEnabled('svc-nope', false))).toBe('TRY_ERR_SERVICE_ACCOUNT_NOT_FOUND');
    expect(code(() => registry.rotateServiceAccountSecret('svc-nope'))).toBe('TRY_ERR_SERVICE_ACCOUNT_NOT_FOUND');
    // A device id is not a service account id, and the other way round.
    expect(code(() => registry.setEnabled('svc-north', false))).toBe('TRY_ERR_DEVICE_NOT_FOUND');
  });

  it('shares one id namespace with devices (the MQTT client id): the registry and the schema both refuse a clash', () => {
    registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'S1', adapterId: 'native' });
    registry.addServiceAccount({ id: 'svc-north', teamId: 'team-north' });
    expect(code(() => registry.addServiceAccount({ id: 'd-0001', teamId: 'team-north' }))).toBe('TRY_ERR_SERVICE_ACCOUNT_EXISTS');
    expect(code(() => registry.addDevice({ id: 'svc-north', kind: 'observer', model: 'recorder', adapterId: 'none' }))).toBe(
      'TRY_ERR_DEVICE_EXISTS',
    );
    // A writer that skips the registry hits the triggers.
    const sqlCode = (sql: string, ...params: unknown[]): string | undefined => {
      try {
        db.prepare(sql).run(...params);
      } catch (err) {
        return sqliteErrorCode(err);
      }
      return undefined;
    };
    expect(
      sqlCode(
        "INSERT INTO service_accounts (id, team_id, secret_hash, enabled, created_at) VALUES ('d-0001', 'team-north', 'x', 1, ?)",
        T0.toISOString(),
      ),
    ).toBe('SQLITE_CONSTRAINT_TRIGGER');
    expect(
      sqlCode(
        "INSERT INTO devices (id, kind, model, adapter_id, secret_hash, enabled, created_at) VALUES ('svc-north', 'sensor', 'S1', 'native', 'x', 1, ?)",
        T0.toISOString(),
      ),
    ).toBe('SQLITE_CONSTRAINT_TRIGGER');
    expect(registry.getServiceAccount('d-0001')).toBeUndefined();
    expect(registry.getDevice('svc-north')).toBeUndefined();
  });
});

describe('tryggheim service-accounts', () => {
  interface Run {
    out: string[];
    err: string[];
    exitCode: number;
    text: string;
  }

  function cli(...args: string[]): Run {
    const out: string[] = [];
    const err: string[] = [];
    const ctx: CliContext = {
      config: () => ({ dataDir }) as unknown as Config,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    };
    const program = new Command('tryggheim')
      .exitOverride()
      .configureOutput({ writeOut: (s) => out.push(s.trimEnd()), writeErr: (s) => err.push(s.trimEnd()) });
    registerServiceAccountCommands(program, ctx);
    let exitCode = 0;
    try {
      program.parse(args, { from: 'user' });
    } catch (e) {
      if (!(e instanceof CommanderError)) throw e;
      exitCode = e.exitCode;
    }
    return { out, err, exitCode, text: out.join('\n') };
  }

  function ok(...args: string[]): Run {
    const run = cli(...args);
    expect(run.err, `${args.join(' ')} wrote to stderr`).toEqual([]);
    expect(run.exitCode).toBe(0);
    return run;
  }

  function secretIn(run: Run): string {
    const found = run.text.match(SECRET) ?? [];
    expect(found).toHaveLength(1);
    return found[0] ?? '';
  }

  /** What the broker would be told, from a fresh connection (the CLI is another process in production). */
  function authenticate(id: string, secret: string) {
    const other = openDatabase(databasePath(dataDir));
    try {
      return createDeviceRegistry({ db: other }).authenticate(id, Buffer.from(secret));
    } finally {
      other.close();
    }
  }

  it('add prints the secret once and how to connect; list never shows it', () => {
    const add = ok('service-accounts', 'add', 'svc-north', '--team', 'team-north');
    const secret = secretIn(add);
    expect(add.text).toMatch(/will not be shown again/);
    expect(add.text).toContain('tryggheim/v1/alerts/team-north/open');
    expect(add.text).not.toMatch(/no home belongs/);
    expect(authenticate('svc-north', secret)).toEqual({ ok: true, principal: { kind: 'service', id: 'svc-north', teamId: 'team-north' } });

    const table = ok('service-accounts', 'list');
    expect(table.out[0]).toMatch(/^ID\s+TEAM\s+ENABLED\s+CREATED\s+SECRET ROTATED$/);
    expect(table.out[1]?.split(/\s+/).slice(0, 3)).toEqual(['svc-north', 'team-north', 'yes']);
    for (const run of [table, ok('service-accounts', 'list', '--json')]) {
      expect(run.text).not.toMatch(SECRET);
      expect(run.text).not.toContain('sha256:');
    }
  });

  it('gives machines JSON, filters by team, and notes a team without homes (a typo, or the ops team)', () => {
    const body = JSON.parse(ok('service-accounts', 'add', 'svc-south', '--team', 'team-south', '--json').text) as {
      account: { id: string; teamId: string };
      secret: string;
    };
    expect(body.account).toMatchObject({ id: 'svc-south', teamId: 'team-south' });
    expect(authenticate('svc-south', body.secret).ok).toBe(true);
    const ops = ok('service-accounts', 'add', 'svc-ops', '--team', 'team-ops');
    expect(ops.text).toMatch(/no home belongs to team team-ops/);
    const ids = (JSON.parse(ok('service-accounts', 'list', '--json', '--team', 'team-south').text) as { id: string }[]).map((a) => a.id);
    expect(ids).toEqual(['svc-south']);
  });

  it('disables, enables and rotates', () => {
    const secret = secretIn(ok('service-accounts', 'add', 'svc-north', '--team', 'team-north'));
    expect(ok('service-accounts', 'disable', 'svc-north').text).toBe('Service account svc-north disabled.');
    expect(authenticate('svc-north', secret)).toEqual({ ok: false, reason: 'disabled' });
    ok('service-accounts', 'enable', 'svc-north');
    const rotated = ok('service-accounts', 'rotate-secret', 'svc-north');
    const fresh = secretIn(rotated);
    expect(authenticate('svc-north', secret)).toEqual({ ok: false, reason: 'bad_secret' });
    expect(authenticate('svc-north', fresh).ok).toBe(true);
    const json = JSON.parse(ok('service-accounts', 'rotate-secret', 'svc-north', '--json').text) as { id: string; secret: string };
    expect(authenticate('svc-north', json.secret).ok).toBe(true);
  });

  it('expected failures are one line and exit code 1; a missing --team is a usage error', () => {
    const unknown = cli('service-accounts', 'disable', 'svc-nope');
    expect(unknown.exitCode).toBe(1);
    expect(unknown.err).toEqual(['error: service account svc-nope not found']);
    const bad = cli('service-accounts', 'add', 'svc-x', '--team', 'Team North');
    expect(bad.exitCode).toBe(1);
    expect(bad.err).toHaveLength(1);
    const usage = cli('service-accounts', 'add', 'svc-x');
    expect(usage.exitCode).not.toBe(0);
    expect(usage.err.join('\n')).toMatch(/--team/);
  });
});
