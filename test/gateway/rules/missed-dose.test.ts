import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../gateway/db/sqlite.js';
import { virtualClock } from '../../../simulators/clock.js';
import { ALL_DAYS, harness, MIN, plan } from './support.js';

// Missed dose on the shared virtual clock (simulators/clock.ts). Home h001 in Europe/Oslo takes one dose at
// 08:00 with a 60 min window and 30 min grace: the deadline is 09:30 local.
const T0 = Date.parse('2026-03-10T06:00:00Z'); // 07:00 CET
const DOSE = Date.parse('2026-03-10T07:00:00Z'); // 08:00 CET
const DEADLINE = Date.parse('2026-03-10T08:30:00Z'); // 09:30 CET
const SUBJECT = '2026-03-10T08:00';
const D = 'disp-1';

describe('missed-dose (virtual clock)', () => {
  it('dispensed but not taken: raises at the deadline, once, naming the dose', () => {
    const h = harness({ start: T0 });
    h.clock.advanceTo(DOSE);
    h.send(D, { type: 'dose', kind: 'due', slot: '08:00' });
    h.clock.advanceTo(DOSE + 30_000);
    h.send(D, { type: 'dose', kind: 'dispensed', slot: '08:00' });
    h.clock.advanceTo(DEADLINE - 1);
    expect(h.raised()).toEqual([]);
    h.clock.advanceTo(DEADLINE + 60 * MIN);
    const r = h.raised('missed-dose');
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ subject: SUBJECT, title: 'Dose not taken', kind: 'care', homeId: 'h001', at: DEADLINE });
    expect(r[0]?.evidence[0]?.note).toBe('dispensed 08:00, not taken by 09:30');
  });

  it('a dose taken one second before the deadline gives no alert', () => {
    const h = harness({ start: T0 });
    h.clock.advanceTo(DOSE + 30_000);
    h.send(D, { type: 'dose', kind: 'dispensed', scheduledAt: new Date(DOSE).toISOString() });
    h.clock.advanceTo(DEADLINE - 1000);
    h.send(D, { type: 'dose', kind: 'taken', scheduledAt: new Date(DOSE).toISOString() });
    h.clock.advanceTo(DEADLINE + 3 * 60 * MIN);
    expect(h.signals).toEqual([]);
  });

  it('not dispensed: says so', () => {
    const h = harness({ start: T0 });
    h.clock.advanceTo(DOSE + MIN);
    h.send(D, { type: 'dose', kind: 'not_dispensed', slot: '08:00' });
    h.clock.advanceTo(DEADLINE);
    expect(h.raised('missed-dose').map((s) => s.title)).toEqual(['Dose not dispensed']);
  });

  it('dispenser offline during the window: urgent and technical, not a missed dose; a late taken clears it', () => {
    const h = harness({ start: T0 });
    h.send(D, { type: 'dose', kind: 'refill_needed' }); // makes D a known dispenser
    h.clock.advanceTo(DOSE + 10 * MIN);
    h.engine.handleDeviceStatus({ deviceId: D, homeId: 'h001', kind: 'dispenser', online: false, at: h.clock.now() });
    h.clock.advanceTo(DOSE + 20 * MIN);
    h.engine.handleDeviceStatus({ deviceId: D, homeId: 'h001', kind: 'dispenser', online: true, at: h.clock.now() });
    h.clock.advanceTo(DEADLINE);
    const r = h.raised('missed-dose');
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ kind: 'technical', severity: 'high', title: 'Dispenser offline at dose time: dose status unknown' });
    h.clock.advanceTo(DEADLINE + 5 * MIN);
    h.send(D, { type: 'dose', kind: 'taken', slot: '08:00' });
    expect(h.cleared('missed-dose')).toMatchObject([{ subject: SUBJECT, title: 'Dose taken' }]);
  });

  it('a short reconnect blip during the window is not "offline"', () => {
    const h = harness({ start: T0 });
    h.send(D, { type: 'dose', kind: 'refill_needed' });
    h.clock.advanceTo(DOSE + 30_000);
    h.send(D, { type: 'dose', kind: 'dispensed', slot: '08:00' });
    h.engine.handleDeviceStatus({ deviceId: D, homeId: 'h001', online: false, at: h.clock.now() });
    h.clock.advanceBy(5000);
    h.engine.handleDeviceStatus({ deviceId: D, homeId: 'h001', online: true, at: h.clock.now() });
    h.clock.advanceTo(DEADLINE);
    expect(h.raised('missed-dose').map((s) => s.title)).toEqual(['Dose not taken']);
  });

  it('a dispenser never heard from: status unknown, raised as offline', () => {
    const h = harness({ start: T0 });
    h.clock.advanceTo(DEADLINE);
    expect(h.raised('missed-dose')).toMatchObject([{ subject: SUBJECT, kind: 'technical' }]);
  });

  it("the dispenser's own missed raises at once; the deadline and repeats do not raise again; taken late clears", () => {
    const h = harness({ start: T0 });
    h.clock.advanceTo(DOSE + 30_000);
    h.send(D, { type: 'dose', kind: 'dispensed', slot: '08:00' });
    h.clock.advanceTo(DOSE + 60 * MIN);
    const missed = h.send(D, { type: 'dose', kind: 'missed', slot: '08:00' });
    expect(h.raised('missed-dose')).toMatchObject([{ subject: SUBJECT, at: DOSE + 60 * MIN, title: 'Dose not taken' }]);
    h.engine.handleEvents([missed]); // at-least-once bus: the same event again
    h.send(D, { type: 'dose', kind: 'missed', slot: '08:00' });
    h.clock.advanceTo(DEADLINE + 10 * MIN);
    expect(h.raised('missed-dose')).toHaveLength(1);
    h.send(D, { type: 'dose', kind: 'taken', slot: '08:00' });
    h.send(D, { type: 'dose', kind: 'taken', slot: '08:00' });
    expect(h.cleared('missed-dose')).toHaveLength(1);
  });

  it('re-arms daily: three days, three deadlines, each on time', () => {
    const h = harness({ start: T0 });
    h.clock.advanceTo(T0 + 3 * 24 * 60 * MIN);
    expect(h.raised('missed-dose').map((s) => [s.subject, new Date(s.at).toISOString()])).toEqual([
      ['2026-03-10T08:00', '2026-03-10T08:30:00.000Z'],
      ['2026-03-11T08:00', '2026-03-11T08:30:00.000Z'],
      ['2026-03-12T08:00', '2026-03-12T08:30:00.000Z'],
    ]);
  });

  it('weekdays: a dose planned Monday only fires on Monday', () => {
    const h = harness({ start: T0, plans: [plan({ doses: [{ time: '08:00', windowMinutes: 60, graceMinutes: 0, weekdays: [1] }] })] });
    h.clock.advanceTo(T0 + 7 * 24 * 60 * MIN);
    expect(h.raised('missed-dose').map((s) => s.subject)).toEqual(['2026-03-16T08:00']);
  });
});

describe('missed-dose on daylight-saving days (Europe/Oslo)', () => {
  const doses = [
    { time: '02:30', windowMinutes: 30, graceMinutes: 0, weekdays: ALL_DAYS },
    { time: '08:00', windowMinutes: 60, graceMinutes: 30, weekdays: ALL_DAYS },
  ];
  const raisedAt = (day: string, start: number): [string, string][] => {
    const h = harness({ start, plans: [plan({ doses })] });
    h.clock.advanceTo(start + 48 * 60 * MIN);
    return h
      .raised('missed-dose')
      .filter((s) => s.subject.startsWith(day))
      .map((s) => [s.subject, new Date(s.at).toISOString()]);
  };

  it('2026-03-29 (spring forward): 08:00 CEST deadline 09:30 CEST; 02:30 does not exist and fires once, an hour on', () => {
    expect(raisedAt('2026-03-29', Date.parse('2026-03-28T12:00:00Z'))).toEqual([
      // 02:30 is in the gap: read as 03:30 CEST (01:30Z), + 30 min window.
      ['2026-03-29T02:30', '2026-03-29T02:00:00.000Z'],
      ['2026-03-29T08:00', '2026-03-29T07:30:00.000Z'],
    ]);
  });

  it('2026-10-25 (fall back): 08:00 CET deadline 09:30 CET; 02:30 happens twice and fires once, for the first', () => {
    expect(raisedAt('2026-10-25', Date.parse('2026-10-24T12:00:00Z'))).toEqual([
      ['2026-10-25T02:30', '2026-10-25T01:00:00.000Z'],
      ['2026-10-25T08:00', '2026-10-25T08:30:00.000Z'],
    ]);
  });

  it('a dose taken on a DST day is matched by its slot like any other day', () => {
    const start = Date.parse('2026-03-29T05:00:00Z');
    const h = harness({ start, plans: [plan()] });
    h.clock.advanceTo(Date.parse('2026-03-29T06:05:00Z')); // 08:05 CEST
    h.send(D, { type: 'dose', kind: 'taken' });
    h.clock.advanceTo(Date.parse('2026-03-29T10:00:00Z'));
    expect(h.raised('missed-dose')).toEqual([]);
  });
});

describe('missed-dose across a crash', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('engine A arms the deadline and dies between dose time and deadline; engine B fires it on time, exactly once', () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-rules-'));
    const path = join(dir, 'tryggheim.sqlite');
    const a = harness({ start: T0, db: openDatabase(path) });
    a.clock.advanceTo(DOSE + 30_000);
    a.send(D, { type: 'dose', kind: 'dispensed', slot: '08:00' });
    a.clock.advanceTo(DOSE + 40 * MIN);
    // The crash: no close(), no shutdown work. A's clock stops with it; its database file stays as it was.
    const crashAt = a.clock.now();

    const b = harness({ start: crashAt, db: openDatabase(path), clock: virtualClock(crashAt + 5 * MIN) });
    b.clock.advanceTo(DEADLINE - 1);
    expect(b.raised()).toEqual([]);
    b.clock.advanceTo(DEADLINE + 6 * 60 * MIN);
    expect(b.raised('missed-dose')).toMatchObject([{ subject: SUBJECT, title: 'Dose not taken', at: DEADLINE }]);
    expect(a.signals).toEqual([]);
    a.db.close();
    b.db.close();
  });

  it('restarted after the deadline: the overdue timer fires at once, once, and not again on the next restart', () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-rules-'));
    const path = join(dir, 'tryggheim.sqlite');
    const a = harness({ start: T0, db: openDatabase(path) });
    a.clock.advanceTo(DOSE + 10 * MIN);
    const late = DEADLINE + 20 * MIN;
    const b = harness({ start: late, db: openDatabase(path), clock: virtualClock(late) });
    b.clock.advanceBy(0);
    expect(b.raised('missed-dose')).toMatchObject([{ subject: SUBJECT, at: late }]);
    b.engine.close();
    const c = harness({ start: late, db: openDatabase(path), clock: virtualClock(late + MIN) });
    c.clock.advanceBy(60 * MIN);
    expect(c.raised('missed-dose')).toEqual([]);
    for (const x of [a, b, c]) x.db.close();
  });

  it('two engines on one file and one clock (a stale process): the deadline still fires once', () => {
    dir = mkdtempSync(join(tmpdir(), 'tryggheim-rules-'));
    const path = join(dir, 'tryggheim.sqlite');
    const clock = virtualClock(T0);
    const a = harness({ start: T0, db: openDatabase(path), clock });
    const b = harness({ start: T0, db: openDatabase(path), clock });
    clock.advanceTo(DEADLINE + MIN);
    expect(a.raised('missed-dose').length + b.raised('missed-dose').length).toBe(1);
    a.db.close();
    b.db.close();
  });
});
