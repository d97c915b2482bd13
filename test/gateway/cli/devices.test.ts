import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../../../gateway/cli/context.js';
import { registerDeviceCommands } from '../../../gateway/cli/devices.js';
import { registerHomeCommands } from '../../../gateway/cli/homes.js';
import type { Config } from '../../../gateway/config/schema.js';
import { databasePath, openDatabase } from '../../../gateway/db/sqlite.js';
import type { AuthResult } from '../../../broker/types.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';

let dataDir: string;

interface Run {
  out: string[];
  err: string[];
  exitCode: number;
  text: string;
}

/** Runs one CLI invocation in-process, the way gateway/cli/main.ts wires it. */
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
  registerDeviceCommands(program, ctx);
  registerHomeCommands(program, ctx);
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

function authenticate(id: string, secret: string): AuthResult {
  const db = openDatabase(databasePath(dataDir));
  try {
    return createDeviceRegistry({ db }).authenticate(id, Buffer.from(secret));
  } finally {
    db.close();
  }
}

const SECRET = /tgs_[A-Za-z0-9_-]{43}/g;

function secretIn(run: Run): string {
  const found = run.text.match(SECRET) ?? [];
  expect(found).toHaveLength(1);
  return found[0] ?? '';
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-cli-'));
  ok('homes', 'add', 'home-0001', '--team', 'team-north');
  ok('homes', 'add', 'home-0002', '--team', 'team-north', '--tz', 'Europe/Oslo');
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('homes', () => {
  it('adds and lists homes as a table and as JSON', () => {
    const table = ok('homes', 'list');
    expect(table.out[0]).toMatch(/^ID\s+TEAM\s+TIME ZONE\s+CREATED$/);
    expect(table.out.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ['home-0001', 'team-north', 'Europe/Oslo'],
      ['home-0002', 'team-north', 'Europe/Oslo'],
    ]);
    const json = JSON.parse(ok('homes', 'list', '--json').text) as { id: string; teamId: string }[];
    expect(json.map((h) => [h.id, h.teamId])).toEqual([
      ['home-0001', 'team-north'],
      ['home-0002', 'team-north'],
    ]);
  });

  it('rejects a bad time zone with one line and exit code 1', () => {
    const run = cli('homes', 'add', 'home-0003', '--team', 'team-north', '--tz', 'Mars/Olympus');
    expect(run.exitCode).toBe(1);
    expect(run.err).toEqual(['error: unknown time zone "Mars/Olympus"; use an IANA zone such as Europe/Oslo']);
  });
});

describe('devices', () => {
  it('prints the secret once on add, and never again', () => {
    const add = ok('devices', 'add', 'd-0001', '--kind', 'dispenser', '--model', 'MD-100', '--adapter', 'native', '--home', 'home-0001');
    const secret = secretIn(add);
    expect(add.text).toMatch(/will not be shown again/);
    expect(authenticate('d-0001', secret)).toEqual({ ok: true, principal: { kind: 'device', id: 'd-0001' } });

    for (const args of [['show', 'd-0001'], ['show', 'd-0001', '--json'], ['list'], ['list', '--json']]) {
      const run = ok('devices', ...args);
      expect(run.text).not.toMatch(SECRET);
      expect(run.text).not.toContain('sha256:');
    }
    const show = ok('devices', 'show', 'd-0001');
    expect(show.text).toMatch(/^home:\s+home-0001 \(since /m);
  });

  it('gives machines the secret and the device as JSON', () => {
    const run = ok('devices', 'add', 'b-0001', '--kind', 'bridge', '--model', 'Z2M hub', '--adapter', 'zigbee2mqtt', '--json');
    const body = JSON.parse(run.text) as { device: { id: string; kind: string; homeId: null }; secret: string };
    expect(body.device).toMatchObject({ id: 'b-0001', kind: 'bridge', homeId: null });
    expect(authenticate('b-0001', body.secret)).toEqual({ ok: true, principal: { kind: 'bridge', id: 'b-0001' } });
  });

  it('lists with filters, as JSON', () => {
    ok('devices', 'add', 'd-0001', '--kind', 'lock', '--model', 'L1', '--adapter', 'native', '--home', 'home-0001');
    ok('devices', 'add', 'd-0002', '--kind', 'sensor', '--model', 'S1', '--adapter', 'senml', '--home', 'home-0002');
    ok('devices', 'add', 'd-0003', '--kind', 'sensor', '--model', 'S1', '--adapter', 'senml');
    const ids = (...args: string[]) => (JSON.parse(ok('devices', 'list', '--json', ...args).text) as { id: string }[]).map((d) => d.id);
    expect(ids()).toEqual(['d-0001', 'd-0002', 'd-0003']);
    expect(ids('--kind', 'sensor')).toEqual(['d-0002', 'd-0003']);
    expect(ids('--home', 'home-0002')).toEqual(['d-0002']);
    const table = ok('devices', 'list', '--kind', 'lock');
    expect(table.out).toHaveLength(2);
    expect(table.out[1]?.split(/\s+/)).toEqual(['d-0001', 'lock', 'L1', 'native', 'home-0001', 'yes']);
  });

  it('disables and enables', () => {
    const secret = secretIn(ok('devices', 'add', 'd-0001', '--kind', 'lock', '--model', 'L1', '--adapter', 'native'));
    expect(ok('devices', 'disable', 'd-0001').out).toEqual(['Device d-0001 disabled.']);
    expect(authenticate('d-0001', secret)).toEqual({ ok: false, reason: 'disabled' });
    expect((JSON.parse(ok('devices', 'show', 'd-0001', '--json').text) as { enabled: boolean }).enabled).toBe(false);
    ok('devices', 'enable', 'd-0001');
    expect(authenticate('d-0001', secret).ok).toBe(true);
  });

  it('rotates the secret: the old one fails, the new one works', () => {
    const old = secretIn(ok('devices', 'add', 'd-0001', '--kind', 'lock', '--model', 'L1', '--adapter', 'native'));
    const rotate = ok('devices', 'rotate-secret', 'd-0001');
    const fresh = secretIn(rotate);
    expect(fresh).not.toBe(old);
    expect(rotate.text).toMatch(/will not be shown again/);
    expect(authenticate('d-0001', old)).toEqual({ ok: false, reason: 'bad_secret' });
    expect(authenticate('d-0001', fresh).ok).toBe(true);
    expect(ok('devices', 'show', 'd-0001').text).not.toContain(fresh);
  });

  it('assigns a device to a home, keeping its history', () => {
    ok('devices', 'add', 'd-0001', '--kind', 'vitals', '--model', 'V1', '--adapter', 'fhir-r4', '--home', 'home-0001');
    expect(ok('devices', 'assign', 'd-0001', 'home-0002').text).toMatch(/^Device d-0001 assigned to home home-0002 from \d{4}-/);
    expect(ok('devices', 'assign', 'd-0001', 'home-0002').text).toMatch(/already assigned.*nothing changed/);
    const shown = JSON.parse(ok('devices', 'show', 'd-0001', '--json').text) as {
      homeId: string;
      assignments: { homeId: string; validTo: string | null }[];
    };
    expect(shown.homeId).toBe('home-0002');
    expect(shown.assignments.map((a) => [a.homeId, a.validTo === null])).toEqual([
      ['home-0002', true],
      ['home-0001', false],
    ]);
  });

  it('maps bridge children', () => {
    ok('devices', 'add', 'b-0001', '--kind', 'bridge', '--model', 'Z2M hub', '--adapter', 'zigbee2mqtt');
    ok('devices', 'add', 'd-0001', '--kind', 'sensor', '--model', 'door contact', '--adapter', 'zigbee2mqtt');
    ok('devices', 'add-child', 'b-0001', '0x00158d0001a2b3c4', 'd-0001');
    expect(ok('devices', 'show', 'b-0001').text).toMatch(/^ {2}0x00158d0001a2b3c4 {2}d-0001$/m);
    const child = cli('devices', 'add-child', 'd-0001', 'x1', 'b-0001');
    expect(child.exitCode).toBe(1);
    expect(child.err).toEqual(['error: device d-0001 is a sensor, not a bridge']);
  });
});

describe('errors', () => {
  it.each([
    [['devices', 'show', 'd-9999']],
    [['devices', 'disable', 'd-9999']],
    [['devices', 'enable', 'd-9999']],
    [['devices', 'rotate-secret', 'd-9999']],
    [['devices', 'assign', 'd-9999', 'home-0001']],
  ])('%j names the unknown device on one line, exit 1', (args) => {
    const run = cli(...args);
    expect(run.exitCode).toBe(1);
    expect(run.err).toEqual(['error: device d-9999 not found']);
    expect(run.out).toEqual([]);
  });

  it('names an unknown home', () => {
    ok('devices', 'add', 'd-0001', '--kind', 'lock', '--model', 'L1', '--adapter', 'native');
    const run = cli('devices', 'assign', 'd-0001', 'home-9999');
    expect(run).toMatchObject({ exitCode: 1, err: ['error: home home-9999 not found'] });
  });

  it('refuses a duplicate or malformed id without printing a secret', () => {
    ok('devices', 'add', 'd-0001', '--kind', 'lock', '--model', 'L1', '--adapter', 'native');
    const dup = cli('devices', 'add', 'd-0001', '--kind', 'lock', '--model', 'L1', '--adapter', 'native');
    expect(dup).toMatchObject({ exitCode: 1, err: ['error: device d-0001 already exists'], out: [] });
    const bad = cli('devices', 'add', 'Kari-Nordmann', '--kind', 'lock', '--model', 'L1', '--adapter', 'native');
    expect(bad.exitCode).toBe(1);
    expect(bad.err).toHaveLength(1);
    expect(bad.err[0]).toMatch(/^error: device id must be 3–64 characters/);
    expect(bad.out.join('\n')).not.toMatch(SECRET);
  });

  it('leaves unknown kinds to commander', () => {
    const run = cli('devices', 'add', 'd-0001', '--kind', 'toaster', '--model', 'L1', '--adapter', 'native');
    expect(run.exitCode).toBe(1);
    expect(run.err.join('\n')).toMatch(/toaster.*invalid/);
  });

  it('reports a database from a newer Tryggheim on one line', () => {
    const db = openDatabase(databasePath(dataDir));
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', '2030-01-01T00:00:00.000Z')").run();
    db.close();
    const run = cli('devices', 'list');
    expect(run.exitCode).toBe(1);
    expect(run.err).toHaveLength(1);
    expect(run.err[0]).toMatch(/^error: database schema is at version 99/);
  });
});

describe('observer accounts', () => {
  it('devices add --kind observer needs no adapter; every other kind still does', () => {
    const run = ok('devices', 'add', 'obs-0001', '--kind', 'observer', '--model', 'recorder', '--json');
    expect(JSON.parse(run.text)).toMatchObject({ device: { id: 'obs-0001', kind: 'observer', adapterId: 'none', homeId: null } });
    const missing = cli('devices', 'add', 'd-0001', '--kind', 'lock', '--model', 'L1');
    expect(missing.exitCode).toBe(1);
    expect(missing.err.join('\n')).toMatch(/--adapter/);
  });
});
