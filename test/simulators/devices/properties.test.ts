import { describe, expect, it } from 'vitest';
import { deviceActions } from '../../../simulators/devices/index.js';
import { localToUtc, offsetAt } from '../../../simulators/devices/local-time.js';
import { INCIDENT_TYPES, type Action } from '../../../simulators/types.js';
import { bodies, ctxFor, day, decodeTrace, local, run, TZ } from './harness.js';
import { DATE, FLEET, incident } from './fleet.js';

const fleetCases = FLEET.map((s) => [`${s.kind} ${s.format}`, s] as const);
const allIncidents = (s: (typeof FLEET)[number]) => INCIDENT_TYPES.filter((t) => t !== 'device-offline').map((t) => incident(t, s));
const text = (a: Action) =>
  a.op === 'publish' ? `${a.at} ${a.op} ${a.topic} q${a.qos} r${a.retain} ${a.payload.toString('base64')}` : `${a.at} ${a.op}`;

describe('determinism and ordering', () => {
  it.each(fleetCases)('%s: same context → byte-identical actions', (_n, s) => {
    const a = [...deviceActions(s, ctxFor(s, DATE, allIncidents(s)))].map(text);
    const b = [...deviceActions(s, ctxFor(s, DATE, allIncidents(s)))].map(text);
    expect(a).toEqual(b);
    const other = [...deviceActions(s, ctxFor(s, DATE, allIncidents(s), 'another-seed'))].map(text);
    expect(other).not.toEqual(a);
  });

  it.each(fleetCases)('%s: time-ordered, within [start, end), connect first, one client', (_n, s) => {
    const ctx = ctxFor(s, DATE, allIncidents(s));
    const actions = [...deviceActions(s, ctx)];
    expect(actions[0]).toMatchObject({ op: 'connect', at: ctx.start, client: s.id });
    for (const [i, a] of actions.entries()) {
      expect(a.at).toBeGreaterThanOrEqual(ctx.start);
      expect(a.at).toBeLessThan(ctx.end);
      expect(a.client).toBe(s.id);
      if (i > 0) expect(a.at).toBeGreaterThanOrEqual(actions[i - 1]?.at ?? 0);
    }
  });

  it.each(fleetCases.filter(([, s]) => s.format === 'tryggheim' || s.format === 'evcode-dispenser'))(
    '%s: the message counter increases',
    (_n, s) => {
      const decoded = decodeTrace(
        s,
        [...deviceActions(s, ctxFor(s, DATE, allIncidents(s)))].map((action) => ({ action, events: [] })),
      );
      const counters = decoded.map((d) => d.events[0]?.seq ?? -1);
      expect(counters.length).toBeGreaterThan(10);
      for (let i = 1; i < counters.length; i++) expect(counters[i]).toBeGreaterThan(counters[i - 1] ?? 0);
    },
  );
});

describe('daylight saving days in Europe/Oslo', () => {
  it('local → UTC: the spring gap moves forward, the autumn repeat takes the first', () => {
    expect(new Date(localToUtc({ year: 2026, month: 3, day: 29 }, 150, TZ)).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(new Date(localToUtc({ year: 2026, month: 10, day: 25 }, 150, TZ)).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(new Date(localToUtc({ year: 2026, month: 10, day: 25 }, 210, TZ)).toISOString()).toBe('2026-10-25T02:30:00.000Z');
    expect(offsetAt(Date.parse('2026-07-01T12:00:00Z'), TZ)).toBe(2 * 3600_000);
  });

  it.each([
    ['2026-03-29', 23, ['06:00', '12:00', '18:00']],
    ['2026-10-25', 25, ['07:00', '13:00', '19:00']],
  ] as const)('%s (%i h): doses due at 08:00, 14:00, 20:00 local', (date, hours, utc) => {
    const { start, end } = day(date);
    expect(end - start).toBe(hours * 3600_000);
    for (const s of FLEET.filter((d) => d.kind === 'dispenser')) {
      const dues = bodies(run(s, date).decoded).flatMap((e) =>
        e.body.type === 'dose' && e.body.kind === 'due' ? [e.body.scheduledAt] : [],
      );
      expect(dues).toEqual(utc.map((t) => `${date}T${t}:00.000Z`));
    }
  });

  it.each(['2026-03-29', '2026-10-25'])('%s: every device decodes the whole day', (date) => {
    for (const s of FLEET) expect(run(s, date).decoded.length).toBeGreaterThan(3);
  });

  it('a night incident on the short night lands at its local time', () => {
    const s = FLEET.find((d) => d.kind === 'lock' && d.format === 'tryggheim');
    if (s === undefined) throw new Error('no lock');
    const i = { ...incident('door-opened-at-night', s), at: local('2026-03-29', '03:30') };
    const opened = bodies(run(s, '2026-03-29', [i]).decoded).find((e) => e.body.type === 'lock' && e.body.kind === 'opened');
    // Unlocked at 03:30 local (01:30Z), opened 10 s later.
    expect(opened?.observedAt).toBe('2026-03-29T01:30:10.000Z');
  });
});

describe('no personal data', () => {
  it.each(fleetCases)('%s: topics and payloads carry opaque ids only', (_n, s) => {
    const actions = [...deviceActions(s, ctxFor(s, DATE, allIncidents(s)))];
    for (const a of actions) {
      if (a.op !== 'publish') continue;
      expect(a.topic).toMatch(/^tryggheim\/v1\/(devices|bridges)\/sim-h001-[a-z0-9-]+\/[A-Za-z0-9/]+$/);
      const p = a.payload.toString('utf8');
      expect(p).not.toMatch(/Patient|"subject"|"name"|address|phone|birth/i);
      for (const ref of p.match(/(tag|staff|user)-\w+/g) ?? []) expect(ref).toMatch(/^(tag-\d{4}|staff-\d{3})$/);
    }
  });
});
