import { describe, expect, it } from 'vitest';
import { buildDoseLog, doseLogWindow, type DoseAlert, type TakenReport } from '../../../gateway/care/dose-log.js';
import type { CarePlan } from '../../../gateway/care/model.js';

// The dose log is pure: plan, reports, alerts and the clock in; one entry per scheduled dose out. Times are the
// home's local times (Europe/Oslo), including the day daylight saving time starts (2026-03-29, no 02:00–03:00).

const plan = (doses: CarePlan['doses']): CarePlan => ({
  homeId: 'home-1',
  teamId: 'team-1',
  timeZone: 'Europe/Oslo',
  doses,
  night: { from: '22:00', to: '07:00' },
  visits: [],
  overrides: {},
});
const daily = (time: string, weekdays = [1, 2, 3, 4, 5, 6, 7]) => ({ time, windowMinutes: 60, graceMinutes: 30, weekdays });
const report = (at: string, over: Partial<TakenReport> = {}): TakenReport => ({
  at: Date.parse(at),
  slot: null,
  scheduledAt: null,
  ...over,
});
const alert = (subject: string, over: Partial<DoseAlert> = {}): DoseAlert => ({
  id: `al-${subject}`,
  subject,
  state: 'active',
  kind: 'care',
  clearedAt: null,
  ...over,
});

describe('buildDoseLog', () => {
  it("matches a report without slot or time to a dose within the home's missed-dose matchHours, as the rule does", () => {
    const now = Date.parse('2026-03-12T12:00:00Z');
    const taken = [report('2026-03-12T09:00:00Z')]; // 10:00 local: two hours after the 08:00 dose
    const entry = (p: CarePlan) => buildDoseLog({ plan: p, now, days: 1, taken, alerts: [] }).find((d) => d.dose === '2026-03-12T08:00');
    expect(entry(plan([daily('08:00')]))).toMatchObject({ status: 'taken', basis: 'dose_report' }); // default 4 h
    const narrow = { ...plan([daily('08:00')]), overrides: { 'missed-dose': { matchHours: 1 } } };
    expect(entry(narrow)).toMatchObject({ status: 'unknown', basis: 'no_record' }); // the rule would not count it either
  });

  it('lists each scheduled dose of the last days up to now, in local time, on the weekdays of the schedule', () => {
    const now = Date.parse('2026-03-12T12:00:00Z'); // Thursday 13:00 in Oslo
    const log = buildDoseLog({ plan: plan([daily('08:00'), daily('20:00', [1, 3])]), now, days: 3, taken: [], alerts: [] });
    // Tue 10th, Wed 11th (with 20:00: Wednesday is 3), Thu 12th until now.
    expect(log.map((d) => d.dose)).toEqual(['2026-03-10T08:00', '2026-03-11T08:00', '2026-03-11T20:00', '2026-03-12T08:00']);
    expect(log[0]).toEqual({
      dose: '2026-03-10T08:00',
      scheduledAt: '2026-03-10T07:00:00.000Z',
      deadlineAt: '2026-03-10T08:30:00.000Z',
      status: 'unknown',
      takenAt: null,
      alertId: null,
      basis: 'no_record',
    });
  });

  it('knows that 08:00 is an hour earlier in UTC after daylight saving time starts', () => {
    const now = Date.parse('2026-03-30T12:00:00Z');
    const log = buildDoseLog({ plan: plan([daily('08:00')]), now, days: 3, taken: [], alerts: [] });
    expect(log.map((d) => d.scheduledAt)).toEqual(['2026-03-28T07:00:00.000Z', '2026-03-29T06:00:00.000Z', '2026-03-30T06:00:00.000Z']);
    expect(doseLogWindow({ timeZone: 'Europe/Oslo' }, now, 3)).toEqual({
      from: Date.parse('2026-03-27T23:00:00Z'),
      firstDate: '2026-03-28',
    });
  });

  it('matches taken reports as the missed-dose rule does: scheduled time, else slot, else the nearest dose', () => {
    const now = Date.parse('2026-03-12T20:00:00Z'); // 21:00 in Oslo: the 20:00 dose is within its window
    const doses = [daily('08:00'), daily('20:00')];
    const taken = [
      report('2026-03-11T09:55:00Z', { scheduledAt: '2026-03-11T07:00:00.000Z' }), // 08:00, late but named
      report('2026-03-11T20:30:00Z', { slot: '20:00' }),
      report('2026-03-12T07:20:00Z'), // nearest: 08:00 on the 12th
      report('2026-03-12T12:00:00Z', { scheduledAt: '2026-03-12T10:00:00.000Z' }), // a dose not in the plan: nothing
    ];
    const log = buildDoseLog({ plan: plan(doses), now, days: 2, taken, alerts: [] });
    expect(log.map((d) => [d.dose, d.status, d.takenAt])).toEqual([
      ['2026-03-11T08:00', 'taken', '2026-03-11T09:55:00.000Z'],
      ['2026-03-11T20:00', 'taken', '2026-03-11T20:30:00.000Z'],
      ['2026-03-12T08:00', 'taken', '2026-03-12T07:20:00.000Z'],
      ['2026-03-12T20:00', 'pending', null],
    ]);
  });

  it('reads the missed-dose alerts: missed, unknown (dispenser offline), taken late (cleared); a report wins', () => {
    const now = Date.parse('2026-03-12T21:00:00Z');
    const alerts = [
      alert('2026-03-11T08:00'),
      alert('2026-03-11T20:00', { kind: 'technical' }),
      alert('2026-03-12T08:00', { state: 'cleared', clearedAt: '2026-03-12T09:40:00.000Z' }),
      alert('2026-03-12T20:00'),
    ];
    const taken = [report('2026-03-12T19:30:00Z', { slot: '20:00' })];
    const log = buildDoseLog({ plan: plan([daily('08:00'), daily('20:00')]), now, days: 2, taken, alerts });
    expect(log.map((d) => [d.status, d.basis, d.alertId])).toEqual([
      ['missed', 'alert', 'al-2026-03-11T08:00'],
      ['unknown', 'alert', 'al-2026-03-11T20:00'],
      ['taken', 'alert_cleared', 'al-2026-03-12T08:00'],
      ['taken', 'dose_report', 'al-2026-03-12T20:00'],
    ]);
    expect(log[2]?.takenAt).toBe('2026-03-12T09:40:00.000Z');
  });

  it('is empty without a schedule', () => {
    expect(
      buildDoseLog({
        plan: plan([]),
        now: Date.parse('2026-03-12T21:00:00Z'),
        days: 7,
        taken: [report('2026-03-12T07:00:00Z')],
        alerts: [],
      }),
    ).toEqual([]);
  });
});
