import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reportToCsv, reportToJson, summarise } from '../../../gateway/alerts/report.js';
import { HOUR, MIN, T0, errorCode, iso, setup, type Fixture } from './fixture.js';

let f: Fixture;

beforeEach(() => {
  f = setup();
});

afterEach(() => {
  f.close();
});

/** Raises a critical alert (acknowledge 5 min, follow up 30 min) at T0 + offset in the given home. */
function raiseAt(offset: number, subject: string, homeId = 'home-0001'): string {
  const [t] = f.store.apply(f.signal({ subject, homeId, at: T0 + offset }));
  if (!t) throw new Error('no transition');
  return t.alertId;
}

function at<T>(ms: number, fn: () => T): T {
  f.clock.now = ms;
  return fn();
}

describe('followUpReport', () => {
  it('counts on time, late, never and pending per team, judged at report time', () => {
    const onTime = raiseAt(0, 'sensor-0001');
    const ackLate = raiseAt(0, 'sensor-0002');
    raiseAt(0, 'sensor-0003'); // never acknowledged, never resolved
    const lateResolve = raiseAt(0, 'sensor-0004');
    const south = raiseAt(0, 'sensor-0005', 'home-0002');
    raiseAt(2 * HOUR - MIN, 'sensor-0006'); // still within its deadlines when the report is made
    raiseAt(3 * HOUR, 'sensor-0007'); // outside the period
    at(T0 + 5 * MIN, () => f.store.acknowledge(onTime, { by: 'nurse-0001' })); // exactly at the deadline: on time
    at(T0 + 30 * MIN, () => f.store.resolve(onTime, { by: 'nurse-0001', outcome: 'visited_ok' }));
    at(T0 + 6 * MIN, () => f.store.acknowledge(ackLate, { by: 'nurse-0001' }));
    at(T0 + 4 * MIN, () => f.store.acknowledge(lateResolve, { by: 'nurse-0001' }));
    at(T0 + 31 * MIN, () => f.store.resolve(lateResolve, { by: 'nurse-0001', outcome: 'visited_action_taken' }));
    // Resolved without an acknowledgement: the implicit acknowledgement at 50 min is late.
    at(T0 + 50 * MIN, () => f.store.resolve(south, { by: 'nurse-0002', outcome: 'false_alarm' }));

    f.clock.now = T0 + 2 * HOUR;
    const report = f.store.followUpReport({ from: T0, to: T0 + 2 * HOUR });
    expect(report).toEqual({
      from: iso(T0),
      to: iso(T0 + 2 * HOUR),
      generatedAt: iso(T0 + 2 * HOUR),
      teams: [
        {
          teamId: 'team-north',
          count: 5,
          acknowledgedOnTime: 2,
          acknowledgedLate: 1,
          acknowledgedNever: 1,
          acknowledgePending: 1,
          resolvedOnTime: 1,
          resolvedLate: 1,
          resolvedNever: 2,
          resolvePending: 1,
        },
        {
          teamId: 'team-south',
          count: 1,
          acknowledgedOnTime: 0,
          acknowledgedLate: 1,
          acknowledgedNever: 0,
          acknowledgePending: 0,
          resolvedOnTime: 0,
          resolvedLate: 1,
          resolvedNever: 0,
          resolvePending: 0,
        },
      ],
    });
    expect(f.store.followUpReport({ teamId: 'team-south', from: T0, to: T0 + 2 * HOUR }).teams.map((t) => t.teamId)).toEqual([
      'team-south',
    ]);
  });

  it('lists a requested team with nothing to report, and validates the period', () => {
    expect(f.store.followUpReport({ teamId: 'team-east', from: T0, to: T0 + HOUR }).teams).toEqual([
      expect.objectContaining({ teamId: 'team-east', count: 0, acknowledgedNever: 0 }),
    ]);
    expect(errorCode(() => f.store.followUpReport({ from: T0 + 1, to: T0 }))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
  });
});

describe('renderers', () => {
  const report = summarise(
    [
      {
        teamId: 'team-north',
        ackDueAt: iso(T0 + 5 * MIN),
        acknowledgedAt: iso(T0 + 6 * MIN),
        followUpDueAt: iso(T0 + 30 * MIN),
        resolvedAt: null,
      },
      { teamId: 'ops', ackDueAt: iso(T0 + 5 * MIN), acknowledgedAt: null, followUpDueAt: iso(T0 + 30 * MIN), resolvedAt: null },
    ],
    { from: iso(T0), to: iso(T0 + HOUR) },
    iso(T0 + HOUR),
  );

  it('writes RFC 4180 CSV, one row per team, with the period on every row', () => {
    expect(reportToCsv(report)).toBe(
      [
        'team_id,alerts,acknowledged_on_time,acknowledged_late,acknowledged_never,acknowledge_pending,resolved_on_time,resolved_late,resolved_never,resolve_pending,period_from,period_to,generated_at',
        `ops,1,0,0,1,0,0,0,1,0,${iso(T0)},${iso(T0 + HOUR)},${iso(T0 + HOUR)}`,
        `team-north,1,0,1,0,0,0,0,1,0,${iso(T0)},${iso(T0 + HOUR)},${iso(T0 + HOUR)}`,
        '',
      ].join('\r\n'),
    );
  });

  it('writes JSON that parses back to the report', () => {
    expect(JSON.parse(reportToJson(report))).toEqual(report);
  });
});
