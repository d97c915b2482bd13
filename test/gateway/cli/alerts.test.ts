import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, AlertTransition } from '../../../gateway/alerts/model.js';
import type { FollowUpReport } from '../../../gateway/alerts/report.js';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import { createAlertStore, type AlertStore } from '../../../gateway/alerts/store.js';
import { registerAlertCommands } from '../../../gateway/cli/alerts.js';
import type { CliContext } from '../../../gateway/cli/context.js';
import { buildProgram } from '../../../gateway/cli/main.js';
import { ConfigSchema, type Config } from '../../../gateway/config/schema.js';
import { databasePath, openDatabase } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';

// A real SQLite file in a temp data dir, synthetic homes in two teams, alerts raised on a clock the test moves;
// the CLI reads the same clock, so "overdue" and "late" are deterministic.

const T0 = Date.parse('2026-03-10T08:00:00.000Z'); // 09:00 in Oslo (CET, +01:00)
const MIN = 60_000;

let dataDir: string;
let config: Config;
const clock = { now: T0 };

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
  const ctx: CliContext = { config: () => config, out: (line) => out.push(line), err: (line) => err.push(line) };
  const program = new Command('tryggheim')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s.trimEnd()), writeErr: (s) => err.push(s.trimEnd()) });
  registerAlertCommands(program, ctx, { now: () => clock.now });
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

/** The store as the gateway would hold it, on its own connection, closed after `fn`. */
function withStore<T>(fn: (store: AlertStore) => T): T {
  const db = openDatabase(databasePath(dataDir));
  // Ids continue from what is stored, so a second call would not collide.
  let n = db.prepare('SELECT count(*) FROM alerts').pluck().get() as number;
  try {
    return fn(createAlertStore({ db, now: () => clock.now, newId: () => `al-${String(++n).padStart(4, '0')}` }));
  } finally {
    db.close();
  }
}

function signal(over: Partial<AlertSignal> = {}): AlertSignal {
  return {
    action: 'raise',
    rule: 'fall',
    homeId: 'home-0001',
    subject: 'sensor-0001',
    severity: 'critical',
    kind: 'care',
    title: 'Fall detected',
    at: clock.now,
    evidence: [],
    ...over,
  };
}

const list = (...args: string[]) => (JSON.parse(ok('alerts', 'list', '--json', ...args).text) as Alert[]).map((a) => a.id);
const show = (id: string) => JSON.parse(ok('alerts', 'show', id, '--json').text) as { alert: Alert; timeline: AlertTransition[] };

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-cli-alerts-'));
  config = ConfigSchema.parse({ dataDir });
  clock.now = T0;
  const db = openDatabase(databasePath(dataDir));
  const registry = createDeviceRegistry({ db, now: () => new Date(clock.now) });
  registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  registry.addHome({ id: 'home-0002', teamId: 'team-south' });
  db.close();
  withStore((store) => {
    store.apply(signal()); // al-0001: critical, ack due 09:05
    store.apply(signal({ rule: 'door-night', homeId: 'home-0002', subject: 'door', severity: 'high', title: 'Door open at night' })); // al-0002
    store.apply(
      signal({
        rule: 'low-battery',
        subject: 'sensor-0002',
        severity: 'low',
        kind: 'technical',
        title: 'Battery low',
        evidence: [{ deviceId: 'sensor-0002', note: 'battery 9 %' }],
      }),
    ); // al-0003
    clock.now = T0 + MIN;
    store.apply(
      signal({ action: 'clear', rule: 'low-battery', subject: 'sensor-0002', severity: 'low', kind: 'technical', title: 'Battery low' }),
    );
  });
  clock.now = T0 + 10 * MIN;
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('alerts list', () => {
  it('lists open alerts, most urgent first, in local time with what is overdue', () => {
    const run = ok('alerts', 'list');
    expect(run.out[0]).toMatch(/^ID\s+SEVERITY\s+RULE\s+HOME\s+SUBJECT\s+STATE\s+ACK\s+RAISED\s+FOLLOW-UP$/);
    expect(run.out.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      [
        'al-0001',
        'critical',
        'fall',
        'home-0001',
        'sensor-0001',
        'active',
        'no',
        '2026-03-10 09:00+01:00',
        'ACK OVERDUE (due 09:05), follow-up due 09:30',
      ],
      [
        'al-0002',
        'high',
        'door-night',
        'home-0002',
        'door',
        'active',
        'no',
        '2026-03-10 09:00+01:00',
        'ack due 09:15, follow-up due 11:00',
      ],
      [
        'al-0003',
        'low',
        'low-battery',
        'home-0001',
        'sensor-0002',
        'cleared',
        'no',
        '2026-03-10 09:00+01:00',
        'ack due 2026-03-11 09:00, follow-up due 2026-03-13 09:00',
      ],
    ]);
  });

  it('filters by team, home, state and severity', () => {
    expect(list()).toEqual(['al-0001', 'al-0002', 'al-0003']);
    expect(list('--team', 'team-south')).toEqual(['al-0002']);
    expect(list('--home', 'home-0001')).toEqual(['al-0001', 'al-0003']);
    expect(list('--state', 'cleared')).toEqual(['al-0003']);
    expect(list('--state', 'active', '--severity', 'high')).toEqual(['al-0002']);
    expect(list('--state', 'resolved')).toEqual([]);
    expect(ok('alerts', 'list', '--state', 'resolved').out).toEqual(['no alerts']);
  });

  it('refuses an unknown state and a malformed team id with exit code 1', () => {
    expect(fails('alerts', 'list', '--state', 'closed')).toContain('Allowed choices are open, active, cleared');
    expect(fails('alerts', 'list', '--team', 'X')).toContain('TRY_ERR_ALERT_INVALID_INPUT');
  });
});

describe('alerts show', () => {
  it('prints the alert and every transition of its timeline', () => {
    const run = ok('alerts', 'show', 'al-0003');
    expect(run.out.slice(0, 5)).toEqual([
      'id:            al-0003',
      'title:         Battery low (low, technical)',
      'rule:          low-battery, subject sensor-0002',
      'home:          home-0001 (team team-north; times in Europe/Oslo)',
      'state:         cleared, unacknowledged',
    ]);
    expect(run.text).toContain('cleared:       2026-03-10 09:01:00+01:00');
    expect(run.text).toContain('  -  sensor-0002  "battery 9 %"');
    const timeline = run.out.slice(run.out.indexOf('timeline:') + 1).map((l) => l.trim().split(/\s{2,}/));
    expect(timeline).toEqual([
      ['AT', 'TYPE', 'ACTOR', 'DETAIL'],
      ['2026-03-10 09:00:00+01:00', 'raised', 'rule:low-battery', 'count=1 evidenceAdded=1'],
      ['2026-03-10 09:01:00+01:00', 'cleared', 'rule:low-battery'],
    ]);
    expect(show('al-0003').timeline.map((t) => [t.type, t.at, t.actor])).toEqual([
      ['raised', '2026-03-10T08:00:00.000Z', 'rule:low-battery'],
      ['cleared', '2026-03-10T08:01:00.000Z', 'rule:low-battery'],
    ]);
  });

  it('exits 1 for an unknown id', () => {
    expect(fails('alerts', 'show', 'al-9999')).toBe('error: alert al-9999 not found (TRY_ERR_ALERT_NOT_FOUND)');
  });
});

describe('alerts ack and resolve', () => {
  it('acknowledges, refuses a second ack, resolves, and the timeline records each step', () => {
    expect(ok('alerts', 'ack', 'al-0001', '--by', 'nurse-0001', '--note', 'on my way').out).toEqual([
      'Alert al-0001 acknowledged by nurse-0001, late (was due 2026-03-10 09:05+01:00).',
    ]);
    expect(show('al-0001').alert).toMatchObject({ ack: 'acknowledged', acknowledgedBy: 'nurse-0001', ackNote: 'on my way' });
    expect(ok('alerts', 'list', '--state', 'acknowledged').out[1]).toContain('by nurse-0001');

    expect(fails('alerts', 'ack', 'al-0001', '--by', 'nurse-0002')).toBe(
      'error: alert al-0001 was already acknowledged by nurse-0001 (TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED)',
    );

    clock.now = T0 + 20 * MIN;
    expect(ok('alerts', 'resolve', 'al-0001', '--by', 'nurse-0001', '--outcome', 'visited_ok').out).toEqual([
      'Alert al-0001 resolved by nurse-0001: visited_ok.',
    ]);
    const { alert, timeline } = show('al-0001');
    expect(alert).toMatchObject({ open: false, outcome: 'visited_ok', resolvedBy: 'nurse-0001' });
    expect(timeline.map((t) => [t.type, t.actor, t.detail.late])).toEqual([
      ['raised', 'rule:fall', undefined],
      ['acknowledged', 'nurse-0001', true],
      ['resolved', 'nurse-0001', false],
    ]);
    expect(list('--state', 'resolved')).toEqual(['al-0001']);
    expect(ok('alerts', 'list', '--state', 'resolved').out[1]).toContain('outcome visited_ok, acked late');
    expect(fails('alerts', 'ack', 'al-0001', '--by', 'nurse-0002')).toContain('TRY_ERR_ALERT_ALREADY_RESOLVED');
    expect(fails('alerts', 'resolve', 'al-0001', '--by', 'nurse-0002', '--outcome', 'false_alarm')).toContain(
      'TRY_ERR_ALERT_ALREADY_RESOLVED',
    );
  });

  it('resolving an unacknowledged alert records the acknowledgement too', () => {
    expect(ok('alerts', 'resolve', 'al-0002', '--by', 'nurse-0003', '--outcome', 'contacted_by_phone').out).toEqual([
      'Alert al-0002 resolved by nurse-0003: contacted_by_phone (acknowledged at the same time).',
    ]);
    expect(show('al-0002').timeline.map((t) => t.type)).toEqual(['raised', 'acknowledged', 'resolved']);
  });

  it('refuses a bad outcome naming the allowed values, and "other" without a note', () => {
    const line = fails('alerts', 'resolve', 'al-0001', '--by', 'nurse-0001', '--outcome', 'fixed');
    expect(line).toContain("'fixed' is invalid");
    expect(line).toContain('Allowed choices are visited_ok, visited_action_taken, contacted_by_phone, false_alarm, technical_fixed, other');
    expect(fails('alerts', 'resolve', 'al-0001', '--by', 'nurse-0001', '--outcome', 'other')).toBe(
      'error: note: outcome "other" needs a note (TRY_ERR_ALERT_INVALID_INPUT)',
    );
    expect(show('al-0001').alert.open).toBe(true);
  });

  it('exits 1 for an unknown id and for a missing --by', () => {
    expect(fails('alerts', 'ack', 'al-9999', '--by', 'nurse-0001')).toBe('error: alert al-9999 not found (TRY_ERR_ALERT_NOT_FOUND)');
    expect(fails('alerts', 'resolve', 'al-9999', '--by', 'nurse-0001', '--outcome', 'visited_ok')).toContain('TRY_ERR_ALERT_NOT_FOUND');
    expect(fails('alerts', 'ack', 'al-0001')).toContain("required option '--by <staffId>' not specified");
  });
});

describe('alerts report', () => {
  beforeEach(() => {
    ok('alerts', 'ack', 'al-0001', '--by', 'nurse-0001'); // 09:10, due 09:05: late
    ok('alerts', 'ack', 'al-0002', '--by', 'nurse-0002'); // 09:10, due 09:15: on time
  });

  const rows = (csv: string) => csv.split('\r\n').map((l) => l.split(','));

  it('counts the late acknowledgement for its team and not the on-time one', () => {
    const [header, north, south, ...rest] = rows(ok('alerts', 'report', '--from', '2026-03-10', '--to', '2026-03-10').text);
    expect(rest).toEqual([]);
    const col = (row: string[] | undefined, name: string) => row?.[header?.indexOf(name) ?? -1];
    expect(col(north, 'team_id')).toBe('team-north');
    expect(col(north, 'alerts')).toBe('2');
    expect(col(north, 'acknowledged_late')).toBe('1');
    expect(col(north, 'acknowledge_pending')).toBe('1'); // the low-battery alert, due tomorrow
    expect(col(south, 'team_id')).toBe('team-south');
    expect(col(south, 'acknowledged_on_time')).toBe('1');
    expect(col(south, 'acknowledged_late')).toBe('0');
    // Local dates in Europe/Oslo: 2026-03-10 is [23:00Z the day before, 23:00Z).
    expect(col(north, 'period_from')).toBe('2026-03-09T23:00:00.000Z');
    expect(col(north, 'period_to')).toBe('2026-03-10T23:00:00.000Z');

    const southOnly = rows(ok('alerts', 'report', '--from', '2026-03-10', '--to', '2026-03-10', '--team', 'team-south').text);
    expect(southOnly.map((r) => r[0])).toEqual(['team_id', 'team-south']);
  });

  it('takes ISO instants as a half-open period, writes JSON to a file, and leaves out other periods', () => {
    const out = join(dataDir, 'report.json');
    const args = ['alerts', 'report', '--from', '2026-03-10T08:00:00Z', '--to', '2026-03-10T09:00:00+01:00', '--format', 'json'];
    expect(ok(...args, '--out', out).out).toEqual([`Report written to ${out}.`]);
    const report = JSON.parse(readFileSync(out, 'utf8')) as FollowUpReport;
    // to = 08:00Z exclusive: nothing raised at 08:00Z is in [08:00Z, 08:00Z).
    expect(report).toMatchObject({ from: '2026-03-10T08:00:00.000Z', to: '2026-03-10T08:00:00.000Z', teams: [] });
    expect(rows(ok('alerts', 'report', '--from', '2026-03-11', '--to', '2026-03-31').text)).toHaveLength(1);
  });

  it('refuses a date that is neither YYYY-MM-DD nor an instant with an offset, and from after to', () => {
    expect(fails('alerts', 'report', '--from', '10.03.2026', '--to', '2026-03-10')).toContain('--from: expected YYYY-MM-DD');
    expect(fails('alerts', 'report', '--from', '2026-03-10', '--to', '2026-03-10T12:00:00')).toContain('--to: expected');
    expect(fails('alerts', 'report', '--from', '2026-03-11', '--to', '2026-03-09')).toContain('TRY_ERR_ALERT_INVALID_INPUT');
  });
});

describe('registration', () => {
  it('is part of the tryggheim program, and the write commands say when the gateway sees them', () => {
    const ctx: CliContext = { config: () => config, out: () => undefined, err: () => undefined };
    const alerts = buildProgram(ctx).commands.find((c) => c.name() === 'alerts');
    expect(alerts?.commands.map((c) => c.name())).toEqual(['list', 'show', 'ack', 'resolve', 'report']);
    for (const name of ['ack', 'resolve']) {
      expect(alerts?.commands.find((c) => c.name() === name)?.description()).toContain('within seconds');
    }
  });
});
