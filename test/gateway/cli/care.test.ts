import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CareDetails } from '../../../gateway/care/store.js';
import { registerCareCommands } from '../../../gateway/cli/care.js';
import type { CliContext } from '../../../gateway/cli/context.js';
import { registerHomeCommands } from '../../../gateway/cli/homes.js';
import { ConfigError } from '../../../gateway/config/load.js';
import type { Config } from '../../../gateway/config/schema.js';

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
  registerHomeCommands(program, ctx);
  registerCareCommands(program, ctx);
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

/** An expected failure: exit code 1, exactly one line on stderr, nothing on stdout. */
function fails(...args: string[]): string {
  const run = cli(...args);
  expect(run.exitCode, args.join(' ')).toBe(1);
  expect(run.err).toHaveLength(1);
  expect(run.out).toEqual([]);
  return run.err[0] ?? '';
}

function show(home = 'home-0042'): CareDetails {
  return JSON.parse(ok('care', 'show', home, '--json').text) as CareDetails;
}

function file(name: string, text: string): string {
  const path = join(dataDir, name);
  writeFileSync(path, text);
  return path;
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-cli-care-'));
  ok('homes', 'add', 'home-0042', '--team', 'team-north');
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('care show', () => {
  it('shows the defaults of an unconfigured home, for humans and as JSON', () => {
    expect(ok('care', 'show', 'home-0042').out).toEqual([
      'home:       home-0042 (team team-north, time zone Europe/Oslo)',
      'doses:      none (no medication schedule: no missed-dose alerts)',
      'night:      22:00–07:00 (default)',
      'visits:     none (no visit plan)',
      'overrides:  none',
    ]);
    expect(show()).toEqual({
      homeId: 'home-0042',
      teamId: 'team-north',
      timeZone: 'Europe/Oslo',
      doses: [],
      night: { from: '22:00', to: '07:00' },
      visits: [],
      overrides: {},
      defaulted: ['doses', 'night', 'visits'],
      storedVisits: 0,
    });
  });
});

describe('care schedule', () => {
  it('sets a schedule, marking the defaults, and replaces it on the next set', () => {
    const set = ok('care', 'schedule', 'set', 'home-0042', '--dose', '08:00', '--dose', '20:00', '--grace', '15');
    expect(set.out).toEqual([
      'Medication schedule of home home-0042:',
      '  08:00  every day  window 60 min  grace 15 min',
      '  20:00  every day  window 60 min  grace 15 min',
    ]);
    expect(ok('care', 'show', 'home-0042').out.slice(1, 4)).toEqual([
      'doses:',
      '  08:00  every day  window 60 min (default)  grace 15 min',
      '  20:00  every day  window 60 min (default)  grace 15 min',
    ]);
    ok('care', 'schedule', 'set', 'home-0042', '--dose', '09:00,21:00', '--window', '90', '--weekdays', '1-5');
    expect(show().doses).toEqual([
      { time: '09:00', windowMinutes: 90, graceMinutes: 30, weekdays: [1, 2, 3, 4, 5] },
      { time: '21:00', windowMinutes: 90, graceMinutes: 30, weekdays: [1, 2, 3, 4, 5] },
    ]);
  });

  it('adds weekend doses and clears', () => {
    ok('care', 'schedule', 'set', 'home-0042', '--dose', '08:00', '--weekdays', '1-5');
    ok('care', 'schedule', 'add', 'home-0042', '--dose', '10:00', '--weekdays', '6,7');
    expect(show().doses.map((d) => [d.time, d.weekdays])).toEqual([
      ['08:00', [1, 2, 3, 4, 5]],
      ['10:00', [6, 7]],
    ]);
    expect(ok('care', 'schedule', 'clear', 'home-0042').out).toEqual([
      'Medication schedule of home home-0042 cleared (2 entries removed).',
    ]);
    expect(show().doses).toEqual([]);
  });

  it('refuses bad input with one line, changing nothing', () => {
    ok('care', 'schedule', 'set', 'home-0042', '--dose', '08:00');
    expect(fails('care', 'schedule', 'set', 'home-0042')).toMatch(/^error: doses: give at least one --dose HH:MM/);
    expect(fails('care', 'schedule', 'set', 'home-0042', '--dose', '8')).toBe('error: doses.0.time: expected a local time HH:MM (got "8")');
    expect(fails('care', 'schedule', 'set', 'home-0042', '--dose', '08:00', '--window', '1.5')).toBe(
      'error: --window: expected a whole number of minutes (got "1.5")',
    );
    expect(fails('care', 'schedule', 'set', 'home-0042', '--dose', '08:00', '--window', '0')).toBe(
      'error: doses.0.windowMinutes: expected at least 1 minute',
    );
    expect(fails('care', 'schedule', 'set', 'home-0042', '--dose', '08:00', '--weekdays', 'mon-fri')).toMatch(
      /^error: weekdays: expected ISO weekdays 1–7/,
    );
    expect(fails('care', 'schedule', 'set', 'home-0042', '--dose', '08:00', '--dose', '08:30')).toMatch(
      /^error: doses: the 08:00 window on Monday \(60 min\) runs into the 08:30 dose/,
    );
    expect(show().doses.map((d) => d.time)).toEqual(['08:00']);
  });
});

describe('care night', () => {
  it('sets a night window across midnight and clears it back to the default', () => {
    expect(ok('care', 'night', 'set', 'home-0042', '--from', '23:00', '--to', '06:00').out).toEqual([
      'Night window of home home-0042: 23:00–06:00.',
    ]);
    expect(ok('care', 'show', 'home-0042').out).toContain('night:      23:00–06:00');
    ok('care', 'night', 'clear', 'home-0042');
    expect(show().night).toEqual({ from: '22:00', to: '07:00' });
    expect(fails('care', 'night', 'set', 'home-0042', '--from', '22:00', '--to', '22:00')).toMatch(
      /must not start and end at the same time/,
    );
  });
});

describe('care visits', () => {
  it('imports CSV and JSON, shows them in local time, and clears', () => {
    const csv = file('week10.csv', 'from,to\n2099-03-02T08:00:00+01:00,2099-03-02T08:30:00+01:00\n');
    expect(ok('care', 'visits', 'import', 'home-0042', csv).out).toEqual(['Home home-0042: 1 visits added, 0 already planned.']);
    expect(ok('care', 'visits', 'import', 'home-0042', csv).out).toEqual(['Home home-0042: 0 visits added, 1 already planned.']);
    const json = file('week11.json', JSON.stringify([{ from: '2099-03-09T19:00:00Z', to: '2099-03-09T19:20:00Z' }]));
    ok('care', 'visits', 'import', 'home-0042', json);
    const lines = ok('care', 'show', 'home-0042').out;
    expect(lines).toContain('visits:     2 stored, 2 recent or coming (times in Europe/Oslo)');
    expect(lines).toContain('  2099-03-02 08:00 → 2099-03-02 08:30');
    expect(lines).toContain('  2099-03-09 20:00 → 2099-03-09 20:20');
    expect(ok('care', 'visits', 'import', 'home-0042', csv, '--replace').out).toEqual([
      'Home home-0042: 1 visits added, 0 already planned, 2 removed first.',
    ]);
    expect(ok('care', 'visits', 'clear', 'home-0042').out).toEqual(['Planned visits of home home-0042 cleared (1 removed).']);
    expect(show().storedVisits).toBe(0);
  });

  it('adds one visit', () => {
    ok('care', 'visits', 'add', 'home-0042', '--from', '2099-01-01T08:00:00Z', '--to', '2099-01-01T08:30:00Z');
    expect(show().visits).toEqual([{ from: '2099-01-01T08:00:00.000Z', to: '2099-01-01T08:30:00.000Z' }]);
  });

  it('names the file, line and field of a mistake, and imports nothing', () => {
    const csv = file('week10.csv', 'from,to\n2099-03-02T08:00:00Z,2099-03-02T08:30:00Z\n2099-03-02T09:00:00Z,2099-03-02T08:00:00Z\n');
    expect(fails('care', 'visits', 'import', 'home-0042', csv)).toBe(
      'error: week10.csv:3 to: a visit must end after it starts (got "2099-03-02T08:00:00Z")',
    );
    const json = file('week11.json', '[\n  {"from": "2099-03-02T08:00:00Z"}\n]');
    expect(fails('care', 'visits', 'import', 'home-0042', json)).toMatch(/^error: week11\.json:2 \[0\]\.to: expected an ISO instant/);
    expect(show().storedVisits).toBe(0);
    expect(fails('care', 'visits', 'import', 'home-0042', join(dataDir, 'missing.csv'))).toMatch(
      /^error: cannot read .*missing\.csv: ENOENT$/,
    );
    expect(fails('care', 'visits', 'import', 'home-0042', file('plan.txt', ''))).toBe('error: plan.txt: expected a .csv or .json file');
  });
});

describe('care override', () => {
  it('sets, shows and clears a rule override', () => {
    expect(ok('care', 'override', 'set', 'home-0042', 'door-open', '--json', '{"minutes":15}').out).toEqual([
      'Rule door-open in home home-0042 now uses {"minutes":15}.',
    ]);
    expect(ok('care', 'show', 'home-0042').out.slice(-2)).toEqual(['overrides:', '  door-open  {"minutes":15}']);
    expect(show().overrides).toEqual({ 'door-open': { minutes: 15 } });
    ok('care', 'override', 'clear', 'home-0042', 'door-open');
    expect(show().overrides).toEqual({});
    expect(ok('care', 'override', 'clear', 'home-0042', 'door-open').out).toEqual(['Home home-0042 had no override for rule door-open.']);
  });

  it('refuses JSON that is not an object', () => {
    expect(fails('care', 'override', 'set', 'home-0042', 'door-open', '--json', '{minutes:15}')).toMatch(/^error: --json: not valid JSON/);
    expect(fails('care', 'override', 'set', 'home-0042', 'door-open', '--json', '[15]')).toBe(
      'error: params: expected a JSON object, e.g. {"minutes":15}',
    );
  });
});

describe('errors', () => {
  it.each([
    [['care', 'show', 'home-9999']],
    [['care', 'schedule', 'set', 'home-9999', '--dose', '08:00']],
    [['care', 'schedule', 'clear', 'home-9999']],
    [['care', 'night', 'set', 'home-9999', '--from', '22:00', '--to', '07:00']],
    [['care', 'visits', 'clear', 'home-9999']],
    [['care', 'override', 'set', 'home-9999', 'door-open', '--json', '{}']],
    [['care', 'override', 'clear', 'home-9999', 'door-open']],
  ])('%j names the unknown home on one line, exit 1', (args) => {
    expect(fails(...args)).toBe('error: home home-9999 not found');
  });

  it('leaves a missing required option to commander', () => {
    const run = cli('care', 'night', 'set', 'home-0042', '--from', '22:00');
    expect(run.exitCode).toBe(1);
    expect(run.err.join('\n')).toMatch(/--to/);
  });

  it('lets a configuration error through to main (exit code 2)', () => {
    const program = new Command('tryggheim').exitOverride();
    registerCareCommands(program, {
      config: () => {
        throw new ConfigError(['dataDir: required']);
      },
      out: () => undefined,
      err: () => undefined,
    });
    expect(() => program.parse(['care', 'show', 'home-0042'], { from: 'user' })).toThrow(ConfigError);
  });
});
