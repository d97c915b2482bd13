import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CARE_DEFAULTS } from '../../../gateway/care/defaults.js';
import { CareError, type CareErrorCode } from '../../../gateway/care/inputs.js';
import { CarePlanSchema, type CareLookup } from '../../../gateway/care/model.js';
import { createCareStore, type CareStore } from '../../../gateway/care/store.js';
import { openDatabase, type Database } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';

let dir: string;
let db: Database;
let clock: Date;
let care: CareStore;

const T0 = new Date('2026-03-02T09:00:00.000Z');
const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];

function thrown(fn: () => unknown): CareError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CareError) return err;
    throw err;
  }
  throw new Error('expected a CareError');
}

const code = (fn: () => unknown): CareErrorCode => thrown(fn).code;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-care-'));
  db = openDatabase(join(dir, 'tryggheim.sqlite'));
  clock = T0;
  const registry = createDeviceRegistry({ db, now: () => clock });
  registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  registry.addHome({ id: 'home-0002', teamId: 'team-south', timeZone: 'America/New_York' });
  care = createCareStore({ db, now: () => clock });
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('defaults', () => {
  it('gives an unconfigured home no doses, the default night, no visits and no overrides', () => {
    const plan = care.planFor('home-0001');
    expect(plan).toEqual({
      homeId: 'home-0001',
      teamId: 'team-north',
      timeZone: 'Europe/Oslo',
      doses: [],
      night: { from: '22:00', to: '07:00' },
      visits: [],
      overrides: {},
    });
    expect(CarePlanSchema.parse(plan)).toEqual(plan);
    expect(care.details('home-0001').defaulted).toEqual(['doses', 'night', 'visits']);
  });

  it('is the CareLookup the rules read', () => {
    const lookup: CareLookup = care;
    expect(CarePlanSchema.parse(lookup.planFor('home-0002'))).toMatchObject({ homeId: 'home-0002' });
  });

  it('takes the time zone and team from the home', () => {
    expect(care.planFor('home-0002')).toMatchObject({ teamId: 'team-south', timeZone: 'America/New_York' });
  });

  it('returns undefined from planFor for an unknown home, and refuses commands for it', () => {
    expect(care.planFor('home-9999')).toBeUndefined();
    expect(care.planFor('Not An Id')).toBeUndefined();
    const commands: (() => unknown)[] = [
      () => care.details('home-9999'),
      () => care.setSchedule('home-9999', [{ time: '08:00' }]),
      () => care.addDoses('home-9999', [{ time: '08:00' }]),
      () => care.clearSchedule('home-9999'),
      () => care.setNightWindow('home-9999', { from: '22:00', to: '07:00' }),
      () => care.clearNightWindow('home-9999'),
      () => care.addVisit('home-9999', { from: '2026-03-02T08:00:00Z', to: '2026-03-02T08:30:00Z' }),
      () => care.importVisits('home-9999', { text: 'from,to\n', format: 'csv', source: 'v.csv' }),
      () => care.clearVisits('home-9999'),
      () => care.setOverride('home-9999', 'door-open', { minutes: 15 }),
      () => care.clearOverride('home-9999', 'door-open'),
    ];
    for (const command of commands) {
      const err = thrown(command);
      expect(err.code).toBe('TRY_ERR_HOME_NOT_FOUND');
      expect(err.message).toBe('home home-9999 not found');
    }
  });
});

describe('medication schedule', () => {
  it('fills window and grace from the defaults when an entry omits them, and every day when weekdays are omitted', () => {
    const doses = care.setSchedule('home-0001', [
      { time: '20:00' },
      { time: '08:00', windowMinutes: 90, graceMinutes: 15, weekdays: [5, 1, 3, 1] },
    ]);
    expect(doses).toEqual([
      { time: '08:00', windowMinutes: 90, graceMinutes: 15, weekdays: [1, 3, 5] },
      { time: '20:00', windowMinutes: CARE_DEFAULTS.doseWindowMinutes, graceMinutes: CARE_DEFAULTS.doseGraceMinutes, weekdays: EVERY_DAY },
    ]);
    expect(care.planFor('home-0001')?.doses).toEqual(doses);
    expect(care.details('home-0001').defaulted).toEqual(['doses.1.windowMinutes', 'doses.1.graceMinutes', 'night', 'visits']);
  });

  it('replaces the whole schedule on set, and only for that home', () => {
    care.setSchedule('home-0001', [{ time: '08:00' }, { time: '14:00' }, { time: '20:00' }]);
    care.setSchedule('home-0002', [{ time: '09:00' }]);
    care.setSchedule('home-0001', [{ time: '09:30' }]);
    expect(care.planFor('home-0001')?.doses.map((d) => d.time)).toEqual(['09:30']);
    expect(care.planFor('home-0002')?.doses.map((d) => d.time)).toEqual(['09:00']);
    expect(care.setSchedule('home-0001', [])).toEqual([]);
    expect(care.planFor('home-0001')?.doses).toEqual([]);
  });

  it('adds entries for other days, and clears', () => {
    care.setSchedule('home-0001', [{ time: '08:00', weekdays: [1, 2, 3, 4, 5] }]);
    const doses = care.addDoses('home-0001', [{ time: '08:00', windowMinutes: 120, weekdays: [6, 7] }]);
    expect(doses.map((d) => [d.time, d.windowMinutes, d.weekdays])).toEqual([
      ['08:00', 60, [1, 2, 3, 4, 5]],
      ['08:00', 120, [6, 7]],
    ]);
    expect(care.clearSchedule('home-0001')).toBe(2);
    expect(care.clearSchedule('home-0001')).toBe(0);
    expect(care.planFor('home-0001')?.doses).toEqual([]);
  });

  it('refuses a schedule the missed-dose rule could not read unambiguously, changing nothing', () => {
    care.setSchedule('home-0001', [{ time: '08:00' }]);
    const twice = thrown(() => care.addDoses('home-0001', [{ time: '08:00', weekdays: [3] }]));
    expect(twice.code).toBe('TRY_ERR_DOSE_CONFLICT');
    expect(twice.message).toBe('doses: 08:00 is scheduled twice on Wednesday');
    const overlap = thrown(() => care.setSchedule('home-0001', [{ time: '08:00' }, { time: '08:30' }]));
    expect(overlap.message).toMatch(/^doses: the 08:00 window on Monday \(60 min\) runs into the 08:30 dose/);
    // Sunday 23:30 with a 60-minute window runs into Monday 00:15: the check wraps past the week's end.
    expect(
      code(() =>
        care.setSchedule('home-0001', [
          { time: '23:30', weekdays: [7] },
          { time: '00:15', weekdays: [1] },
        ]),
      ),
    ).toBe('TRY_ERR_DOSE_CONFLICT');
    // Windows that touch but do not overlap are fine, and grace may run into the next dose.
    expect(care.setSchedule('home-0001', [{ time: '08:00' }, { time: '09:00' }])).toHaveLength(2);
    care.setSchedule('home-0001', [{ time: '08:00' }]);
    expect(care.planFor('home-0001')?.doses.map((d) => d.time)).toEqual(['08:00']);
  });

  it('names the field of a bad entry', () => {
    const cases: [unknown, string][] = [
      [[{ time: '25:00' }], 'doses.0.time: expected a local time HH:MM (got "25:00")'],
      [[{ time: '08:00' }, { time: '8:00' }], 'doses.1.time: expected a local time HH:MM (got "8:00")'],
      [[{ time: '08:00', windowMinutes: 0 }], 'doses.0.windowMinutes: expected at least 1 minute'],
      [[{ time: '08:00', graceMinutes: 1.5 }], 'doses.0.graceMinutes: expected a whole number of minutes'],
      [[{ time: '08:00', weekdays: [] }], 'doses.0.weekdays: expected at least one weekday (1 = Monday … 7 = Sunday)'],
    ];
    for (const [entries, message] of cases) {
      const err = thrown(() => care.setSchedule('home-0001', entries as never));
      expect(err.code).toBe('TRY_ERR_INVALID_INPUT');
      expect(err.message).toBe(message);
    }
    expect(thrown(() => care.setSchedule('home-0001', [{ time: '08:00', weekdays: [8] }] as never)).message).toMatch(
      /^doses\.0\.weekdays\.0: /,
    );
  });
});

describe('local times are stored as wall-clock times (DST-agnostic)', () => {
  it('keeps 08:00 at 08:00 and the night at 22:00–07:00 on both daylight-saving days', () => {
    care.setSchedule('home-0001', [{ time: '02:30', windowMinutes: 30 }, { time: '08:00' }]);
    care.setNightWindow('home-0001', { from: '22:00', to: '07:00' });
    const plans = ['2026-03-28T12:00:00Z', '2026-03-29T01:30:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z'].map((iso) => {
      clock = new Date(iso);
      return care.planFor('home-0001');
    });
    for (const plan of plans) expect(plan).toEqual(plans[0]);
    // 02:30 does not exist on 2026-03-29 in Oslo and happens twice on 2026-10-25: resolving it is the rules' job,
    // on the day in question; the store keeps what the prescription says.
    const rows = db.prepare('SELECT local_time FROM care_doses ORDER BY local_time').pluck().all();
    expect(rows).toEqual(['02:30', '08:00']);
    expect(db.prepare('SELECT from_time, to_time FROM care_night_windows').get()).toEqual({ from_time: '22:00', to_time: '07:00' });
  });

  it('does not shift local times for a home in another time zone', () => {
    care.setSchedule('home-0002', [{ time: '08:00' }]);
    expect(care.planFor('home-0002')).toMatchObject({ timeZone: 'America/New_York', doses: [{ time: '08:00' }] });
  });
});

describe('night window', () => {
  it('sets, replaces and clears back to the default', () => {
    expect(care.setNightWindow('home-0001', { from: '23:00', to: '06:30' })).toEqual({ from: '23:00', to: '06:30' });
    care.setNightWindow('home-0001', { from: '00:00', to: '06:00' });
    expect(care.planFor('home-0001')?.night).toEqual({ from: '00:00', to: '06:00' });
    expect(care.details('home-0001').defaulted).not.toContain('night');
    expect(care.clearNightWindow('home-0001')).toBe(true);
    expect(care.clearNightWindow('home-0001')).toBe(false);
    expect(care.planFor('home-0001')?.night).toEqual(CARE_DEFAULTS.night);
  });

  it('refuses an empty window and bad times', () => {
    expect(thrown(() => care.setNightWindow('home-0001', { from: '22:00', to: '22:00' })).message).toBe(
      'night.to: the night window must not start and end at the same time (got "22:00")',
    );
    expect(thrown(() => care.setNightWindow('home-0001', { from: '22:00', to: '7:00' })).message).toBe(
      'night.to: expected a local time HH:MM (got "7:00")',
    );
  });
});

describe('planned visits', () => {
  it('stores instants as UTC and ignores a visit planned twice', () => {
    expect(care.addVisit('home-0001', { from: '2026-03-02T10:00:00+01:00', to: '2026-03-02T10:30:00+01:00' })).toBe(true);
    expect(care.addVisit('home-0001', { from: '2026-03-02T09:00:00Z', to: '2026-03-02T09:30:00.000Z' })).toBe(false);
    expect(care.planFor('home-0001')?.visits).toEqual([{ from: '2026-03-02T09:00:00.000Z', to: '2026-03-02T09:30:00.000Z' }]);
  });

  it('refuses visits that end before they start, last more than a day, or have no offset', () => {
    const cases: [string, string, RegExp][] = [
      ['2026-03-02T10:00:00Z', '2026-03-02T10:00:00Z', /^visit\.to: a visit must end after it starts \(got "2026-03-02T10:00:00Z"\)$/],
      ['2026-03-02T10:00:00Z', '2026-03-02T09:00:00Z', /^visit\.to: a visit must end after it starts/],
      ['2026-03-02T10:00:00Z', '2026-03-03T10:00:01Z', /^visit\.to: a visit must not last longer than 24 hours/],
      ['2026-03-02T10:00:00', '2026-03-02T11:00:00Z', /^visit\.from: expected an ISO instant with seconds and Z or an offset/],
    ];
    for (const [from, to, message] of cases) {
      const err = thrown(() => care.addVisit('home-0001', { from, to }));
      expect(err.code).toBe('TRY_ERR_INVALID_INPUT');
      expect(err.message).toMatch(message);
    }
    expect(care.details('home-0001').storedVisits).toBe(0);
  });

  it('gives the rules the recent and coming visits only, sorted', () => {
    care.addVisit('home-0001', { from: '2026-03-05T08:00:00Z', to: '2026-03-05T08:30:00Z' });
    care.addVisit('home-0001', { from: '2026-02-01T08:00:00Z', to: '2026-02-01T08:30:00Z' }); // weeks ago
    care.addVisit('home-0001', { from: '2026-02-27T08:00:00Z', to: '2026-02-27T08:30:00Z' }); // within 7 days
    expect(care.planFor('home-0001')?.visits.map((v) => v.from)).toEqual(['2026-02-27T08:00:00.000Z', '2026-03-05T08:00:00.000Z']);
    expect(care.details('home-0001').storedVisits).toBe(3);
    expect(care.clearVisits('home-0001')).toBe(3);
    expect(care.details('home-0001').defaulted).toContain('visits');
  });

  it('imports CSV idempotently, and replaces on request', () => {
    const csv = 'from,to\n2026-03-02T08:00:00+01:00,2026-03-02T08:30:00+01:00\n2026-03-02T20:00:00Z,2026-03-02T20:20:00Z\n';
    expect(care.importVisits('home-0001', { text: csv, format: 'csv', source: 'week10.csv' })).toEqual({
      added: 2,
      unchanged: 0,
      removed: 0,
    });
    expect(care.importVisits('home-0001', { text: csv, format: 'csv', source: 'week10.csv' })).toEqual({
      added: 0,
      unchanged: 2,
      removed: 0,
    });
    const next = 'from,to\n2026-03-03T08:00:00Z,2026-03-03T08:30:00Z\n';
    expect(care.importVisits('home-0001', { text: next, format: 'csv', source: 'w.csv' }, { replace: true })).toEqual({
      added: 1,
      unchanged: 0,
      removed: 2,
    });
    expect(care.planFor('home-0001')?.visits).toEqual([{ from: '2026-03-03T08:00:00.000Z', to: '2026-03-03T08:30:00.000Z' }]);
  });

  it('imports nothing from a file with a mistake, and names the line and field', () => {
    care.addVisit('home-0001', { from: '2026-03-03T08:00:00Z', to: '2026-03-03T08:30:00Z' });
    const csv = 'from,to\n2026-03-02T08:00:00Z,2026-03-02T08:30:00Z\n2026-03-02T09:00:00Z,2026-03-02T08:59:00Z\n';
    const err = thrown(() => care.importVisits('home-0001', { text: csv, format: 'csv', source: 'week10.csv' }, { replace: true }));
    expect(err.code).toBe('TRY_ERR_VISITS_IMPORT');
    expect(err.message).toBe('week10.csv:3 to: a visit must end after it starts (got "2026-03-02T08:59:00Z")');
    expect(care.details('home-0001').storedVisits).toBe(1);
  });
});

describe('rule overrides', () => {
  it('sets, replaces and clears per rule', () => {
    care.setOverride('home-0001', 'door-open', { minutes: 15 });
    care.setOverride('home-0001', 'inactivity', { hours: 6, from: '08:00' });
    care.setOverride('home-0001', 'door-open', { minutes: 20 });
    expect(care.planFor('home-0001')?.overrides).toEqual({ 'door-open': { minutes: 20 }, inactivity: { hours: 6, from: '08:00' } });
    expect(care.planFor('home-0002')?.overrides).toEqual({});
    expect(care.clearOverride('home-0001', 'door-open')).toBe(true);
    expect(care.clearOverride('home-0001', 'door-open')).toBe(false);
    expect(care.planFor('home-0001')?.overrides).toEqual({ inactivity: { hours: 6, from: '08:00' } });
  });

  it('accepts only a JSON object for a well-formed rule id', () => {
    for (const params of [[1, 2], null, 'x', 15, { when: new Date() }, { f: undefined }]) {
      expect(thrown(() => care.setOverride('home-0001', 'door-open', params)).message).toMatch(/^params/);
    }
    expect(thrown(() => care.setOverride('home-0001', 'door-open', [])).message).toBe(
      'params: expected a JSON object, e.g. {"minutes":15}',
    );
    expect(code(() => care.setOverride('home-0001', 'Door Open', {}))).toBe('TRY_ERR_INVALID_ID');
    expect(code(() => care.setOverride('home-0001', 'door-open', { big: 'x'.repeat(5000) }))).toBe('TRY_ERR_INVALID_INPUT');
    expect(care.planFor('home-0001')?.overrides).toEqual({});
  });
});

describe('the tables', () => {
  it('refuse what the store would refuse, so a stray SQL write cannot corrupt a plan', () => {
    const now = T0.toISOString();
    const bad = [
      ["INSERT INTO care_doses (home_id, local_time, weekday_mask, created_at) VALUES ('home-0001', '24:00', 1, ?)", now],
      ["INSERT INTO care_doses (home_id, local_time, weekday_mask, created_at) VALUES ('home-0001', '08:00', 128, ?)", now],
      ["INSERT INTO care_doses (home_id, local_time, weekday_mask, created_at) VALUES ('home-9999', '08:00', 1, ?)", now],
      ["INSERT INTO care_night_windows VALUES ('home-0001', '22:00', '22:00', ?)", now],
      ["INSERT INTO care_visits (home_id, from_at, to_at, created_at) VALUES ('home-0001', 'b', 'a', ?)", now],
      ["INSERT INTO care_rule_overrides VALUES ('home-0001', 'door-open', '[1]', ?)", now],
      ["INSERT INTO care_rule_overrides VALUES ('home-0001', 'door-open', 'nope', ?)", now],
    ] as const;
    for (const [sql, at] of bad) expect(() => db.prepare(sql).run(at), sql).toThrow(/constraint/i);
  });
});
