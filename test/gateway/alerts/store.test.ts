import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAlertStore } from '../../../gateway/alerts/store.js';
import { MIN, T0, errorCode, iso, setup, type Fixture } from './fixture.js';

let f: Fixture;

beforeEach(() => {
  f = setup();
});

afterEach(() => {
  f.close();
});

const count = (table: string) => f.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

describe('apply', () => {
  it('raises one alert, routed to the home team, with deadlines from the severity', () => {
    const [t] = f.store.apply(f.signal({ evidence: [{ deviceId: 'sensor-0001', note: 'fall event' }] }));
    expect(t).toMatchObject({ type: 'raised', alertId: 'al-0001', teamId: 'team-north', actor: 'rule:fall', at: iso(T0) });
    const alert = f.store.get('al-0001');
    expect(alert).toMatchObject({
      state: 'active',
      ack: 'unacknowledged',
      open: true,
      count: 1,
      severity: 'critical',
      ackDueAt: iso(T0 + 5 * MIN),
      followUpDueAt: iso(T0 + 30 * MIN),
      nextEscalationAt: iso(T0 + 5 * MIN),
      nextReminderAt: iso(T0 + 2 * MIN),
    });
    expect(alert?.evidence).toHaveLength(1);
  });

  it('dedupes a raise for an open alert: count, last seen, higher severity, bounded evidence', () => {
    const g = setup({ evidenceLimit: 3 });
    try {
      g.store.apply(g.signal({ severity: 'medium', title: 'No motion', evidence: [{ note: 'e1' }, { note: 'e2' }] }));
      g.clock.now += MIN;
      const [d] = g.store.apply(g.signal({ severity: 'high', title: 'Fall suspected', evidence: [{ note: 'e3' }, { note: 'e4' }] }));
      expect(d).toMatchObject({ type: 'deduped', alertId: 'al-0001', severity: 'high', detail: { count: 2, previousSeverity: 'medium' } });
      g.clock.now += MIN;
      const [d2] = g.store.apply(g.signal({ severity: 'low', title: 'Something minor' }));
      expect(d2?.detail.previousSeverity).toBeUndefined();
      const a = g.store.get('al-0001');
      expect(a).toMatchObject({ count: 3, severity: 'high', title: 'Fall suspected', lastSeenAt: iso(T0 + 2 * MIN), evidenceDropped: 1 });
      expect(a?.evidence.map((e) => e.note)).toEqual(['e2', 'e3', 'e4']);
      // Upgrading medium (60 min) to high (15 min) at T0+1min pulls the acknowledge deadline in.
      expect(a?.ackDueAt).toBe(iso(T0 + 16 * MIN));
      expect(g.store.list()).toHaveLength(1);
    } finally {
      g.close();
    }
  });

  it('keeps separate alerts per home, rule and subject', () => {
    f.store.apply(f.signal());
    f.store.apply(f.signal({ subject: 'sensor-0002' }));
    f.store.apply(f.signal({ homeId: 'home-0002' }));
    f.store.apply(f.signal({ rule: 'panic', title: 'Panic button' }));
    expect(f.store.list().map((a) => a.id)).toHaveLength(4);
  });

  it('clears, is idempotent about it, and a new raise reactivates the same open alert', () => {
    f.store.apply(f.signal());
    f.clock.now += MIN;
    expect(f.store.apply(f.signal({ action: 'clear' }))).toMatchObject([{ type: 'cleared' }]);
    expect(f.store.get('al-0001')).toMatchObject({ state: 'cleared', clearedAt: iso(T0 + MIN), open: true });
    expect(f.store.apply(f.signal({ action: 'clear' }))).toEqual([]);
    expect(f.store.apply(f.signal({ action: 'clear', subject: 'nothing-here' }))).toEqual([]);
    const [again] = f.store.apply(f.signal());
    expect(again).toMatchObject({ type: 'deduped', alertId: 'al-0001', detail: { reactivated: true, count: 2 } });
    expect(f.store.get('al-0001')?.state).toBe('active');
  });

  it('opens a new alert for a raise after the previous one was resolved', () => {
    f.store.apply(f.signal());
    f.store.resolve('al-0001', { by: 'nurse-0001', outcome: 'visited_ok' });
    const [t] = f.store.apply(f.signal());
    expect(t).toMatchObject({ type: 'raised', alertId: 'al-0002' });
    expect(f.store.list({ state: 'all' }).map((a) => [a.id, a.open])).toEqual([
      ['al-0001', false],
      ['al-0002', true],
    ]);
  });

  it('routes alerts without a home, or for an unknown home, to the ops team', () => {
    const [gw] = f.store.apply(
      f.signal({ rule: 'gateway-health', homeId: null, subject: 'influxdb', kind: 'technical', severity: 'high' }),
    );
    expect(gw?.teamId).toBe('ops');
    const [unknown] = f.store.apply(f.signal({ homeId: 'home-9999' }));
    expect(unknown).toMatchObject({ teamId: 'ops', detail: { unroutedHome: true } });
    // A second gateway-wide signal dedupes even though home_id is NULL.
    expect(
      f.store.apply(f.signal({ rule: 'gateway-health', homeId: null, subject: 'influxdb', kind: 'technical', severity: 'high' }))[0]?.type,
    ).toBe('deduped');
  });

  it('refuses an invalid signal with a coded error', () => {
    expect(errorCode(() => f.store.apply({ ...f.signal(), rule: 'nope' } as never))).toBe('TRY_ERR_ALERT_INVALID_SIGNAL');
    expect(errorCode(() => f.store.apply(f.signal({ subject: '' })))).toBe('TRY_ERR_ALERT_INVALID_SIGNAL');
  });
});

describe('acknowledge and resolve', () => {
  beforeEach(() => {
    f.store.apply(f.signal());
  });

  it('acknowledges once, stops escalation, and records who and when', () => {
    f.clock.now += 3 * MIN;
    const [t] = f.store.acknowledge('al-0001', { by: 'nurse-0001', note: 'on my way' });
    expect(t).toMatchObject({
      type: 'acknowledged',
      actor: 'nurse-0001',
      at: iso(T0 + 3 * MIN),
      detail: { late: false, note: 'on my way' },
    });
    expect(f.store.get('al-0001')).toMatchObject({
      ack: 'acknowledged',
      acknowledgedBy: 'nurse-0001',
      nextEscalationAt: null,
      nextReminderAt: null,
    });
    expect(errorCode(() => f.store.acknowledge('al-0001', { by: 'nurse-0002' }))).toBe('TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED');
  });

  it('resolves with an outcome, acknowledging implicitly when nobody had', () => {
    f.clock.now += 40 * MIN;
    const ts = f.store.resolve('al-0001', { by: 'nurse-0002', outcome: 'visited_action_taken' });
    expect(ts.map((t) => [t.type, t.detail.implicit, t.detail.late])).toEqual([
      ['acknowledged', true, true],
      ['resolved', undefined, true],
    ]);
    expect(f.store.get('al-0001')).toMatchObject({ open: false, outcome: 'visited_action_taken', acknowledgedBy: 'nurse-0002' });
    expect(errorCode(() => f.store.resolve('al-0001', { by: 'nurse-0002', outcome: 'visited_ok' }))).toBe('TRY_ERR_ALERT_ALREADY_RESOLVED');
    expect(errorCode(() => f.store.acknowledge('al-0001', { by: 'nurse-0002' }))).toBe('TRY_ERR_ALERT_ALREADY_RESOLVED');
  });

  it('validates input and ids', () => {
    expect(errorCode(() => f.store.acknowledge('al-9999', { by: 'nurse-0001' }))).toBe('TRY_ERR_ALERT_NOT_FOUND');
    expect(errorCode(() => f.store.resolve('al-9999', { by: 'nurse-0001', outcome: 'false_alarm' }))).toBe('TRY_ERR_ALERT_NOT_FOUND');
    expect(errorCode(() => f.store.acknowledge('al-0001', { by: '' }))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
    expect(errorCode(() => f.store.resolve('al-0001', { by: 'nurse-0001', outcome: 'shrug' as never }))).toBe(
      'TRY_ERR_ALERT_INVALID_INPUT',
    );
    // "other" without a reason tells the report nothing.
    expect(errorCode(() => f.store.resolve('al-0001', { by: 'nurse-0001', outcome: 'other' }))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
    expect(f.store.get('al-0001')?.open).toBe(true);
  });
});

describe('audit trail and outbox', () => {
  it('records every transition in the timeline and one outbox row each', () => {
    f.store.apply(f.signal());
    f.store.apply(f.signal());
    f.store.apply(f.signal({ action: 'clear' }));
    f.clock.now += 5 * MIN;
    f.store.tick(f.clock.now);
    f.store.acknowledge('al-0001', { by: 'nurse-0001' });
    f.store.resolve('al-0001', { by: 'nurse-0001', outcome: 'contacted_by_phone' });
    const types = f.store.timeline('al-0001').map((t) => t.type);
    expect(types).toEqual(['raised', 'deduped', 'cleared', 'escalated', 'acknowledged', 'resolved']);
    const outbox = f.store.outboxSince(0, 100);
    expect(outbox.map((o) => o.transition.type)).toEqual(types);
    expect(outbox[3]?.alert).toMatchObject({ escalationLevel: 1, state: 'cleared' });
    expect(f.store.timeline('al-9999')).toEqual([]);
  });

  it('tracks delivery per channel, idempotently', () => {
    // Both channels exist before the alerts (the gateway opens its channels at start; a new one starts at the end).
    f.store.openOutboxCursors(['webhook-team-north', 'mqtt']);
    f.store.apply(f.signal());
    f.store.apply(f.signal({ subject: 'sensor-0002' }));
    const [first, second] = f.store.pendingOutbox('webhook-team-north', 10);
    expect(first && second).toBeTruthy();
    expect(f.store.markDelivered('webhook-team-north', [first?.id ?? 0])).toBe(1);
    expect(f.store.markDelivered('webhook-team-north', [first?.id ?? 0])).toBe(0);
    expect(f.store.pendingOutbox('webhook-team-north', 10).map((o) => o.id)).toEqual([second?.id]);
    expect(f.store.pendingOutbox('mqtt', 10)).toHaveLength(2);
    expect(f.store.pendingOutbox('mqtt', 1)).toHaveLength(1);
    expect(errorCode(() => f.store.markDelivered('mqtt', [999]))).toBe('TRY_ERR_ALERT_OUTBOX_UNKNOWN');
    // The failed batch marked nothing.
    expect(f.store.pendingOutbox('mqtt', 10)).toHaveLength(2);
    expect(errorCode(() => f.store.pendingOutbox('Bad Channel', 10))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
  });

  it('writes neither the state change nor the audit row when the outbox write fails', () => {
    f.store.apply(f.signal());
    // Simulates a failure after the alert row and the transition row are written, before commit.
    f.db.exec(`CREATE TRIGGER fail_outbox BEFORE INSERT ON alert_outbox BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`);
    const before = { alerts: count('alerts'), transitions: count('alert_transitions'), outbox: count('alert_outbox') };
    expect(errorCode(() => f.store.apply(f.signal({ subject: 'sensor-0002' })))).toBe('TRY_ERR_ALERT_STORAGE');
    expect(errorCode(() => f.store.apply(f.signal()))).toBe('TRY_ERR_ALERT_STORAGE');
    expect(errorCode(() => f.store.acknowledge('al-0001', { by: 'nurse-0001' }))).toBe('TRY_ERR_ALERT_STORAGE');
    f.clock.now += 10 * MIN;
    expect(errorCode(() => f.store.tick(f.clock.now))).toBe('TRY_ERR_ALERT_STORAGE');
    expect({ alerts: count('alerts'), transitions: count('alert_transitions'), outbox: count('alert_outbox') }).toEqual(before);
    expect(f.store.get('al-0001')).toMatchObject({ count: 1, ack: 'unacknowledged', escalationLevel: 0 });
    // Once the failure is gone the escalation that could not be written fires, once.
    f.db.exec('DROP TRIGGER fail_outbox');
    expect(f.store.tick(f.clock.now).filter((t) => t.type === 'escalated')).toHaveLength(2);
  });

  it('composes with a caller transaction: a rule engine rolling back takes the alert with it', () => {
    expect(() =>
      f.db.transaction(() => {
        f.store.apply(f.signal());
        throw new Error('rule state write failed');
      })(),
    ).toThrow('rule state write failed');
    expect(count('alerts') + count('alert_transitions') + count('alert_outbox')).toBe(0);
  });
});

describe('list', () => {
  it('filters and orders by severity, then age', () => {
    f.store.apply(f.signal({ rule: 'low-battery', subject: 'sensor-0001', severity: 'low', kind: 'technical', title: 'Battery low' }));
    f.clock.now += MIN;
    f.store.apply(f.signal({ rule: 'fall', severity: 'critical' }));
    f.clock.now += MIN;
    f.store.apply(f.signal({ rule: 'panic', severity: 'critical', homeId: 'home-0002', title: 'Panic button' }));
    f.store.apply(f.signal({ rule: 'door-left-open', subject: 'door', severity: 'medium', title: 'Door open' }));
    expect(f.store.list().map((a) => a.rule)).toEqual(['fall', 'panic', 'door-left-open', 'low-battery']);
    expect(f.store.list({ teamId: 'team-south' }).map((a) => a.rule)).toEqual(['panic']);
    expect(f.store.list({ homeId: 'home-0001', severity: 'critical' }).map((a) => a.rule)).toEqual(['fall']);
    f.store.acknowledge('al-0002', { by: 'nurse-0001' });
    f.store.apply(f.signal({ rule: 'door-left-open', subject: 'door', action: 'clear' }));
    f.store.resolve('al-0001', { by: 'tech-0001', outcome: 'technical_fixed' });
    expect(f.store.list({ state: 'acknowledged' }).map((a) => a.id)).toEqual(['al-0002']);
    expect(f.store.list({ state: 'unacknowledged' }).map((a) => a.id)).toEqual(['al-0003', 'al-0004']);
    expect(f.store.list({ state: 'cleared' }).map((a) => a.id)).toEqual(['al-0004']);
    expect(f.store.list({ state: 'active' }).map((a) => a.id)).toEqual(['al-0002', 'al-0003']);
    expect(f.store.list({ state: 'resolved' }).map((a) => a.id)).toEqual(['al-0001']);
    expect(f.store.list({ state: 'all' })).toHaveLength(4);
    expect(errorCode(() => f.store.list({ teamId: 'Team North' }))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
  });
});

describe('policy', () => {
  it('refuses an invalid policy at construction', () => {
    expect(errorCode(() => createAlertStore({ db: f.db, now: () => T0, policy: { chain: [] } }))).toBe('TRY_ERR_ALERT_INVALID_POLICY');
    expect(errorCode(() => createAlertStore({ db: f.db, now: () => T0, policy: { ackDeadlineMs: { critical: 0 } } }))).toBe(
      'TRY_ERR_ALERT_INVALID_POLICY',
    );
  });
});
