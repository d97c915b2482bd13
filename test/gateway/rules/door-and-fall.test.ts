import { describe, expect, it } from 'vitest';
import { fallRule } from '../../../gateway/rules/fall.js';
import { harness, MIN, plan } from './support.js';

// fall, door-left-open and door-night on the shared virtual clock (simulators/clock.ts), home h001 in
// Europe/Oslo with the night window 22:00–07:00.
const DAY_T = Date.parse('2026-03-10T11:00:00Z'); // 12:00 CET
const NIGHT_T = Date.parse('2026-03-10T22:30:00Z'); // 23:30 CET
const noDoses = [plan({ doses: [] })];

describe('fall', () => {
  it('an active fall raises critical for the device; a duplicate within a minute does not; cleared clears', () => {
    const h = harness({ start: DAY_T, plans: noDoses });
    const e = h.send('fall-1', { type: 'alarm', kind: 'fall', state: 'active' });
    h.engine.handleEvents([e]);
    h.clock.advanceBy(20_000);
    h.send('fall-1', { type: 'alarm', kind: 'fall', state: 'active' });
    expect(h.raised('fall')).toMatchObject([{ subject: 'fall-1', severity: 'critical', kind: 'care', title: 'Fall detected' }]);
    h.send('fall-1', { type: 'alarm', kind: 'fall', state: 'cleared' });
    h.send('fall-1', { type: 'alarm', kind: 'fall', state: 'cleared' });
    expect(h.cleared('fall')).toHaveLength(1);
  });

  it('a one-shot fall sensor that never clears: a new fall later raises again', () => {
    const h = harness({ start: DAY_T, plans: noDoses });
    h.send('fall-1', { type: 'alarm', kind: 'fall', state: 'active' });
    h.clock.advanceBy(30 * MIN);
    h.send('fall-1', { type: 'alarm', kind: 'fall', state: 'active' });
    expect(h.raised('fall')).toHaveLength(2);
  });

  it('other alarms and a cleared without a fall raise nothing', () => {
    const h = harness({ start: DAY_T, plans: noDoses, rules: [fallRule] });
    h.send('s-1', { type: 'alarm', kind: 'smoke', state: 'active' });
    h.send('fall-1', { type: 'alarm', kind: 'fall', state: 'cleared' });
    expect(h.signals).toEqual([]);
  });
});

describe('door-left-open', () => {
  it('raises after 10 minutes open, not before; closing clears', () => {
    const h = harness({ start: DAY_T, plans: noDoses });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.clock.advanceBy(10 * MIN - 1);
    expect(h.raised()).toEqual([]);
    h.clock.advanceBy(1);
    expect(h.raised('door-left-open')).toMatchObject([
      { subject: 'door', at: DAY_T + 10 * MIN, title: 'Door left open', evidence: [{ deviceId: 'door-1' }] },
    ]);
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.clock.advanceBy(60 * MIN);
    expect(h.raised('door-left-open')).toHaveLength(1);
    h.send('door-1', { type: 'lock', kind: 'closed' });
    expect(h.cleared('door-left-open')).toMatchObject([{ subject: 'door' }]);
  });

  it('closed within the limit: nothing, and the timer is gone', () => {
    const h = harness({ start: DAY_T, plans: noDoses });
    h.send('c-1', { type: 'measurement', readings: { contact_open: true } });
    h.clock.advanceBy(9 * MIN);
    h.send('c-1', { type: 'measurement', readings: { contact_open: false } });
    h.clock.advanceBy(60 * MIN);
    expect(h.signals).toEqual([]);
    expect(h.db.prepare("SELECT count(*) FROM rule_timers WHERE rule = 'door-left-open'").pluck().get()).toBe(0);
  });

  it('reopened after closing: a fresh 10 minutes from the new opening', () => {
    const h = harness({ start: DAY_T, plans: noDoses });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.clock.advanceBy(8 * MIN);
    h.send('door-1', { type: 'lock', kind: 'closed' });
    h.clock.advanceBy(MIN);
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.clock.advanceBy(9 * MIN);
    expect(h.raised()).toEqual([]);
    h.clock.advanceBy(MIN);
    expect(h.raised('door-left-open')).toMatchObject([{ at: DAY_T + 19 * MIN }]);
  });

  it('N comes from the home override', () => {
    const h = harness({ start: DAY_T, plans: [plan({ doses: [], overrides: { 'door-left-open': { minutes: 3 } } })] });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.clock.advanceBy(3 * MIN);
    expect(h.raised('door-left-open')).toMatchObject([{ at: DAY_T + 3 * MIN }]);
  });
});

describe('door-night', () => {
  it('opened inside the night window raises at once; closing clears; daytime opening does not raise', () => {
    const h = harness({ start: DAY_T, plans: noDoses });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.send('door-1', { type: 'lock', kind: 'closed' });
    expect(h.raised('door-night')).toEqual([]);
    h.clock.advanceTo(NIGHT_T);
    h.send('door-1', { type: 'lock', kind: 'unlocked', method: 'manual' });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.send('contact-1', { type: 'measurement', readings: { contact_open: true } });
    // The lock and a contact on the same door: one alert for the door.
    expect(h.raised('door-night')).toMatchObject([{ subject: 'door', severity: 'high', title: 'Door unlocked at night' }]);
    h.send('door-1', { type: 'lock', kind: 'closed' });
    expect(h.cleared('door-night')).toHaveLength(1);
  });

  it('staff let in by tag or code at night: their openings raise nothing until the door is locked again', () => {
    const h = harness({ start: NIGHT_T, plans: noDoses });
    h.send('door-1', { type: 'lock', kind: 'unlocked', method: 'rfid', credentialRef: 'tag-0001' });
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.send('door-1', { type: 'lock', kind: 'closed' });
    h.clock.advanceBy(20 * MIN);
    h.send('door-1', { type: 'lock', kind: 'opened' });
    h.send('door-1', { type: 'lock', kind: 'closed' });
    h.send('door-1', { type: 'lock', kind: 'locked', method: 'rfid' });
    expect(h.raised('door-night')).toEqual([]);
    // Locked behind them: the next opening is someone else.
    h.clock.advanceBy(MIN);
    h.send('door-1', { type: 'lock', kind: 'opened' });
    expect(h.raised('door-night')).toHaveLength(1);
  });

  it('a planned visit at night (±15 min) covers openings; outside it the door raises', () => {
    const visit = { from: new Date(NIGHT_T + 30 * MIN).toISOString(), to: new Date(NIGHT_T + 50 * MIN).toISOString() };
    const h = harness({ start: NIGHT_T + 20 * MIN, plans: [plan({ doses: [], visits: [visit] })] });
    h.send('c-1', { type: 'measurement', readings: { contact_open: true } });
    h.send('c-1', { type: 'measurement', readings: { contact_open: false } });
    expect(h.raised('door-night')).toEqual([]);
    h.clock.advanceTo(NIGHT_T + 66 * MIN);
    h.send('c-1', { type: 'measurement', readings: { contact_open: true } });
    expect(h.raised('door-night')).toHaveLength(1);
  });

  it('the night window is local time on a DST night too (2026-10-25 06:30 CET is night, 07:30 is not)', () => {
    const h = harness({ start: Date.parse('2026-10-25T05:30:00Z'), plans: noDoses });
    h.send('door-1', { type: 'measurement', readings: { contact_open: true } });
    h.send('door-1', { type: 'measurement', readings: { contact_open: false } });
    h.clock.advanceTo(Date.parse('2026-10-25T06:30:00Z'));
    h.send('door-2', { type: 'measurement', readings: { contact_open: true } });
    expect(h.raised('door-night').map((s) => s.evidence[0]?.deviceId)).toEqual(['door-1']);
  });
});
