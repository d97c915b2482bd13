import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, dueSteps, initialSchedule, resolvePolicy } from '../../../gateway/alerts/escalation.js';
import type { AlertTransition } from '../../../gateway/alerts/model.js';
import { HOUR, MIN, T0, iso, setup, type Fixture } from './fixture.js';

let f: Fixture;

afterEach(() => {
  f.close();
});

const summary = (ts: AlertTransition[]) => ts.map((t) => `${t.type}:${t.detail.level ?? ''}@${t.detail.dueAt ?? ''}`);

describe('tick with the default policy (critical: acknowledge 5 min, follow up 30 min, remind every 2 min)', () => {
  beforeEach(() => {
    f = setup();
    f.store.apply(f.signal());
  });

  it('fires nothing before a deadline and each step exactly at it', () => {
    expect(f.store.nextDeadline()).toBe(T0 + 2 * MIN);
    expect(f.store.tick(T0 + 2 * MIN - 1)).toEqual([]);
    expect(summary(f.store.tick(T0 + 2 * MIN))).toEqual([`reminded:team@${iso(T0 + 2 * MIN)}`]);
    expect(f.store.tick(T0 + 2 * MIN)).toEqual([]);
    expect(f.store.nextDeadline()).toBe(T0 + 4 * MIN);
    expect(summary(f.store.tick(T0 + 4 * MIN))).toEqual([`reminded:team@${iso(T0 + 4 * MIN)}`]);
    expect(summary(f.store.tick(T0 + 5 * MIN))).toEqual([`escalated:team_lead@${iso(T0 + 5 * MIN)}`]);
    expect(f.store.tick(T0 + 5 * MIN)).toEqual([]);
    // Reminders restart from the escalation, to the level now responsible.
    expect(f.store.nextDeadline()).toBe(T0 + 7 * MIN);
    expect(summary(f.store.tick(T0 + 7 * MIN))).toEqual([`reminded:team_lead@${iso(T0 + 7 * MIN)}`]);
    expect(f.store.tick(T0 + 8 * MIN)).toEqual([]);
    expect(summary(f.store.tick(T0 + 10 * MIN))).toEqual([`escalated:response_centre@${iso(T0 + 10 * MIN)}`]);
    // The chain is exhausted: only reminders now, until someone acknowledges.
    expect(summary(f.store.tick(T0 + 12 * MIN))).toEqual([`reminded:response_centre@${iso(T0 + 12 * MIN)}`]);
    expect(f.store.get('al-0001')).toMatchObject({ escalationLevel: 2, nextEscalationAt: null, reminders: 4 });
  });

  it('a late tick fires each due escalation level once, and one reminder rather than a burst', () => {
    const late = f.store.tick(T0 + 11 * MIN);
    expect(summary(late)).toEqual([`escalated:team_lead@${iso(T0 + 5 * MIN)}`, `escalated:response_centre@${iso(T0 + 10 * MIN)}`]);
    expect(late.every((t) => t.at === iso(T0 + 11 * MIN))).toBe(true);
    expect(f.store.tick(T0 + 11 * MIN)).toEqual([]);
    // Next reminder on the grid after the last escalation (10, 12, 14 …), not 11 + 2.
    expect(f.store.nextDeadline()).toBe(T0 + 12 * MIN);
    expect(summary(f.store.tick(T0 + 17 * MIN))).toEqual([`reminded:response_centre@${iso(T0 + 12 * MIN)}`]);
    expect(f.store.nextDeadline()).toBe(T0 + 18 * MIN);
  });

  it('stops escalating and reminding once acknowledged, but still marks the follow-up overdue once', () => {
    f.clock.now = T0 + 3 * MIN;
    f.store.acknowledge('al-0001', { by: 'nurse-0001' });
    expect(f.store.nextDeadline()).toBe(T0 + 30 * MIN);
    expect(f.store.tick(T0 + 29 * MIN)).toEqual([]);
    expect(summary(f.store.tick(T0 + 45 * MIN))).toEqual([`overdue:@${iso(T0 + 30 * MIN)}`]);
    expect(f.store.tick(T0 + 60 * MIN)).toEqual([]);
    expect(f.store.nextDeadline()).toBeUndefined();
    expect(f.store.get('al-0001')?.overdueAt).toBe(iso(T0 + 45 * MIN));
  });

  it('keeps escalating a cleared alert nobody has acknowledged', () => {
    f.store.apply(f.signal({ action: 'clear', at: T0 + MIN }));
    expect(summary(f.store.tick(T0 + 5 * MIN))).toEqual([`escalated:team_lead@${iso(T0 + 5 * MIN)}`]);
  });

  it('nothing is due after resolve', () => {
    f.clock.now = T0 + MIN;
    f.store.resolve('al-0001', { by: 'nurse-0001', outcome: 'false_alarm' });
    expect(f.store.nextDeadline()).toBeUndefined();
    expect(f.store.tick(T0 + 100 * HOUR)).toEqual([]);
  });
});

describe('configurable policy', () => {
  it('uses the configured chain, deadlines and reminder switch', () => {
    f = setup({ chain: ['team', 'duty_officer'], ackDeadlineMs: { high: 10 * MIN }, reminderIntervalMs: { high: null } });
    f.store.apply(f.signal({ severity: 'high' }));
    expect(f.store.nextDeadline()).toBe(T0 + 10 * MIN);
    expect(summary(f.store.tick(T0 + 10 * MIN))).toEqual([`escalated:duty_officer@${iso(T0 + 10 * MIN)}`]);
    // Chain exhausted and no reminders for high: only the 2 h follow-up deadline remains.
    expect(f.store.nextDeadline()).toBe(T0 + 2 * HOUR);
  });

  it('orders due alerts critical first', () => {
    f = setup();
    f.store.apply(f.signal({ rule: 'door-left-open', subject: 'door', severity: 'low', title: 'Door open' }));
    f.store.apply(f.signal({ severity: 'critical' }));
    expect(f.store.tick(T0 + 100 * HOUR).map((t) => t.alertId)[0]).toBe('al-0002');
  });
});

describe('pure schedule', () => {
  it('defaults match issue 5', () => {
    expect(DEFAULT_POLICY.ackDeadlineMs).toEqual({ critical: 5 * MIN, high: 15 * MIN, medium: 60 * MIN, low: 24 * HOUR });
    expect(DEFAULT_POLICY.followUpDeadlineMs).toEqual({ critical: 30 * MIN, high: 2 * HOUR, medium: 8 * HOUR, low: 72 * HOUR });
    expect(DEFAULT_POLICY.chain).toEqual(['team', 'team_lead', 'response_centre']);
  });

  it('is deterministic and idempotent at the same instant', () => {
    const policy = resolvePolicy();
    const s = initialSchedule(policy, 'medium', T0);
    const first = dueSteps(policy, 'medium', s, T0 + 60 * MIN);
    expect(first.steps.map((x) => x.type)).toEqual(['escalated']);
    expect(dueSteps(policy, 'medium', first.schedule, T0 + 60 * MIN).steps).toEqual([]);
    expect(dueSteps(policy, 'medium', s, T0 + 60 * MIN)).toEqual(first);
  });
});

describe('restart', () => {
  it('a new store on the same database continues the schedule without repeating a step', async () => {
    f = setup();
    f.store.apply(f.signal());
    f.store.tick(T0 + 5 * MIN);
    const { createAlertStore } = await import('../../../gateway/alerts/store.js');
    const again = createAlertStore({ db: f.db, now: () => T0 + 6 * MIN });
    expect(again.tick(T0 + 6 * MIN)).toEqual([]);
    expect(summary(again.tick(T0 + 10 * MIN))).toEqual([`escalated:response_centre@${iso(T0 + 10 * MIN)}`]);
    expect(f.store.timeline('al-0001').filter((t) => t.type === 'escalated')).toHaveLength(2);
  });
});
