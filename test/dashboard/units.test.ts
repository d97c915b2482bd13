import { describe, expect, it } from 'vitest';
import type { NamedAlert as Alert, NamedTransition as AlertTransition } from '../../gateway/alerts/model.js';
import { OUTCOMES, TRANSITION_TYPES } from '../../gateway/alerts/model.js';
import { RULE_IDS, SEVERITIES } from '../../gateway/alerts/signal.js';
import { DeviceKindSchema } from '../../gateway/devices/ids.js';
import { AlarmKindSchema, DoseEventKindSchema, EventBodySchema, LockEventKindSchema, LockMethodSchema } from '../../adapters/canonical.js';
import {
  applyAlert,
  applyEvent,
  compareAlerts,
  emptyState,
  groupBySeverity,
  replaceAll,
  visibleAlerts,
  withPendingAck,
  withoutPendingAck,
} from '../../dashboard/web/alert-state.js';
import { NAV_ITEMS, navFor } from '../../dashboard/web/features.js';
import { countdown, formatElapsed } from '../../dashboard/web/format.js';
import { DICTIONARIES, alertTitle, deviceKindText, errorText, eventText, parseLang } from '../../dashboard/web/i18n/index.js';
import { CLIENT_ROUTES, parseRoute, pathOf, safeNext } from '../../dashboard/web/paths.js';
import { OUTCOME_ORDER, SEVERITY_ORDER } from '../../dashboard/web/types.js';

// The dashboard's pure pieces: ordering and the optimistic overlay, countdowns, the dictionaries, routes.

const T0 = Date.parse('2026-03-10T08:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    id,
    homeId: 'h-0001',
    teamId: 'team-north',
    rule: 'fall',
    subject: 'bed',
    kind: 'care',
    severity: 'high',
    title: 'Fall detected',
    state: 'active',
    ack: 'unacknowledged',
    open: true,
    raisedAt: iso(T0),
    lastSeenAt: iso(T0),
    count: 1,
    clearedAt: null,
    evidence: [],
    evidenceDropped: 0,
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgedByName: null,
    ackNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolvedByName: null,
    outcome: null,
    resolveNote: null,
    ackDueAt: iso(T0 + 15 * 60_000),
    followUpDueAt: iso(T0 + 120 * 60_000),
    escalationLevel: 0,
    nextEscalationAt: null,
    nextReminderAt: null,
    reminders: 0,
    overdueAt: null,
    ...over,
  };
}

function event(id: number, a: Alert, type: AlertTransition['type'] = 'raised') {
  const transition: AlertTransition = {
    id,
    alertId: a.id,
    type,
    at: a.lastSeenAt,
    actor: 'system',
    actorName: 'system',
    teamId: a.teamId,
    homeId: a.homeId,
    rule: a.rule,
    subject: a.subject,
    severity: a.severity,
    detail: {},
  };
  return { transition, alert: a };
}

describe('alert ordering', () => {
  it('puts the most severe first, then the longest waiting, then by id', () => {
    const list = [
      alert('c', { severity: 'low', raisedAt: iso(T0 - 60_000) }),
      alert('b', { severity: 'critical', raisedAt: iso(T0) }),
      alert('a', { severity: 'critical', raisedAt: iso(T0) }),
      alert('d', { severity: 'critical', raisedAt: iso(T0 - 1000) }),
      alert('e', { severity: 'medium' }),
    ];
    expect([...list].sort(compareAlerts).map((a) => a.id)).toEqual(['d', 'a', 'b', 'e', 'c']);
  });

  it('groups the wall board by every severity, most urgent first', () => {
    const groups = groupBySeverity([alert('x', { severity: 'low' }), alert('y', { severity: 'critical' })]);
    expect(groups.map((g) => [g.severity, g.alerts.map((a) => a.id)])).toEqual([
      ['critical', ['y']],
      ['high', []],
      ['medium', []],
      ['low', ['x']],
    ]);
  });
});

describe('alert list state', () => {
  it('adds raised alerts, updates them in place, and drops resolved ones', () => {
    const a = alert('a');
    let s = applyEvent(emptyState, event(1, a));
    s = applyEvent(s, event(2, { ...a, ack: 'acknowledged', acknowledgedBy: 'u-ola' }, 'acknowledged'));
    expect(visibleAlerts(s).map((v) => [v.id, v.ack, v.acknowledgedBy])).toEqual([['a', 'acknowledged', 'u-ola']]);
    s = applyEvent(s, event(3, { ...a, open: false }, 'resolved'));
    expect(visibleAlerts(s)).toEqual([]);
    expect(s.revision.get('a')).toBe(3); // kept, so an open detail view still refreshes
  });

  it('replaces the list after a reconnect, keeping only open alerts', () => {
    const s = replaceAll(applyEvent(emptyState, event(1, alert('gone'))), [alert('x'), alert('y', { open: false })]);
    expect(visibleAlerts(s).map((a) => a.id)).toEqual(['x']);
  });

  it('shows an acknowledgement at once and drops it on refusal (rollback) or confirmation', () => {
    const s = replaceAll(emptyState, [alert('a')]);
    const pending = withPendingAck(s, 'a', { by: 'u-kari', at: iso(T0) });
    expect(visibleAlerts(pending)[0]).toMatchObject({ ack: 'acknowledged', acknowledgedBy: 'u-kari', pending: true });
    // Refused: the server's state shows again.
    expect(visibleAlerts(withoutPendingAck(pending, 'a'))[0]).toMatchObject({ ack: 'unacknowledged', pending: false });
    // Confirmed: the server's alert, not pending.
    const confirmed = withoutPendingAck(applyAlert(pending, alert('a', { ack: 'acknowledged', acknowledgedBy: 'u-kari' })), 'a');
    expect(visibleAlerts(confirmed)[0]).toMatchObject({ ack: 'acknowledged', acknowledgedBy: 'u-kari', pending: false });
  });

  it("shows another nurse's acknowledgement over our pending one", () => {
    const s = withPendingAck(replaceAll(emptyState, [alert('a')]), 'a', { by: 'u-kari', at: iso(T0) });
    const other = applyEvent(s, event(5, alert('a', { ack: 'acknowledged', acknowledgedBy: 'u-ola' }), 'acknowledged'));
    expect(visibleAlerts(other)[0]).toMatchObject({ acknowledgedBy: 'u-ola', pending: false });
  });

  it('filters by team and least severity', () => {
    const s = replaceAll(emptyState, [
      alert('n1', { severity: 'critical' }),
      alert('n2', { severity: 'low' }),
      alert('s1', { teamId: 'team-south', severity: 'high' }),
    ]);
    expect(visibleAlerts(s, { team: 'team-north' }).map((a) => a.id)).toEqual(['n1', 'n2']);
    expect(visibleAlerts(s, { minSeverity: 'high' }).map((a) => a.id)).toEqual(['n1', 's1']);
  });
});

describe('durations and countdowns', () => {
  const u = DICTIONARIES.nb.units;

  it('formats time since raised', () => {
    expect(formatElapsed(30_000, u)).toBe('<1 min');
    expect(formatElapsed(-5_000, u)).toBe('<1 min');
    expect(formatElapsed(12 * 60_000 + 59_000, u)).toBe('12 min');
    expect(formatElapsed(60 * 60_000, u)).toBe('1 t');
    expect(formatElapsed(65 * 60_000, u)).toBe('1 t 5 min');
    expect(formatElapsed(26 * 3600_000, u)).toBe('1 d 2 t');
    expect(formatElapsed(48 * 3600_000, DICTIONARIES.en.units)).toBe('2 d');
  });

  it('counts down to the follow-up deadline, mm:ss under an hour', () => {
    const due = iso(T0 + 30 * 60_000);
    expect(countdown(due, T0, u)).toEqual({ text: '30:00', overdue: false, soon: false });
    expect(countdown(due, T0 + 60_000 + 500, u)).toEqual({ text: '29:00', overdue: false, soon: false });
    expect(countdown(due, T0 + 16 * 60_000, u)).toMatchObject({ text: '14:00', soon: true, overdue: false });
    expect(countdown(due, T0 + 30 * 60_000, u)).toMatchObject({ text: '0:00', overdue: false });
    expect(countdown(iso(T0 + 3 * 3600_000), T0, DICTIONARIES.en.units).text).toBe('3 h');
  });

  it('says how far past an overdue deadline is', () => {
    const due = iso(T0);
    expect(countdown(due, T0 + 5 * 60_000 + 7_000, u)).toEqual({ text: '5:07', overdue: true, soon: true });
    expect(countdown(due, T0 + 90 * 60_000, u)).toMatchObject({ text: '1 t 30 min', overdue: true });
  });
});

/** Every leaf of a dictionary with its kind: a string, or a function with its arity. */
function shape(value: unknown, path = ''): string[] {
  if (typeof value === 'string') return [`${path}:string:${value.trim() === '' ? 'EMPTY' : 'ok'}`];
  if (typeof value === 'function') return [`${path}:fn/${value.length}`];
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .filter(([k]) => path !== '' || k !== 'titles') // titles are a partial translation table by design
      .flatMap(([k, v]) => shape(v, path === '' ? k : `${path}.${k}`));
  }
  return [`${path}:${typeof value}`];
}

describe('i18n dictionaries', () => {
  it('bokmål and English have the same keys, kinds and arities, and no empty text', () => {
    const nb = shape(DICTIONARIES.nb);
    expect(shape(DICTIONARIES.en)).toEqual(nb);
    expect(nb.filter((l) => l.endsWith('EMPTY'))).toEqual([]);
  });

  it.each(Object.keys(DICTIONARIES) as (keyof typeof DICTIONARIES)[])('%s names every severity, outcome, transition and rule', (lang) => {
    const t = DICTIONARIES[lang];
    expect(Object.keys(t.severity).sort()).toEqual([...SEVERITIES].sort());
    expect(Object.keys(t.outcome).sort()).toEqual([...OUTCOMES].sort());
    expect(Object.keys(t.transition).sort()).toEqual([...TRANSITION_TYPES].sort());
    expect(Object.keys(t.rule).sort()).toEqual([...RULE_IDS].sort());
  });

  it.each(Object.keys(DICTIONARIES) as (keyof typeof DICTIONARIES)[])(
    '%s names every canonical event type, every dose, lock and alarm kind, every lock method and device kind',
    (lang) => {
      const t = DICTIONARIES[lang];
      const sorted = (keys: readonly string[]) => [...keys].sort();
      expect(sorted(Object.keys(t.events.types))).toEqual(sorted(EventBodySchema.options.map((o) => o.shape.type.value)));
      expect(sorted(Object.keys(t.events.dose))).toEqual(sorted(DoseEventKindSchema.options));
      expect(sorted(Object.keys(t.events.lock))).toEqual(sorted(LockEventKindSchema.options));
      expect(sorted(Object.keys(t.events.alarm))).toEqual(sorted(AlarmKindSchema.options));
      expect(sorted(Object.keys(t.events.lockMethod))).toEqual(sorted(LockMethodSchema.options));
      expect(sorted(Object.keys(t.home.deviceKind))).toEqual(sorted(DeviceKindSchema.options));
      // No kind is left as its raw key (a copy-paste placeholder).
      for (const words of [t.events.dose, t.events.lock, t.events.alarm])
        expect(Object.entries(words).filter(([kind, label]) => label === kind)).toEqual([]);
    },
  );

  it('says an event in words, and shows a kind it does not know as it is', () => {
    const nb = DICTIONARIES.nb;
    expect(eventText({ type: 'dose', kind: 'missed', method: null, active: null }, nb)).toBe('Dose: Ikke tatt');
    expect(eventText({ type: 'lock', kind: 'unlocked', method: 'app', active: null }, nb)).toBe('Dør: Låst opp (app)');
    expect(eventText({ type: 'alarm', kind: 'smoke', method: null, active: false }, nb)).toBe('Alarm: Røyk – over');
    expect(eventText({ type: 'alarm', kind: 'fall', method: null, active: true }, DICTIONARIES.en)).toBe('Alarm: Fall');
    expect(eventText({ type: 'lock', kind: 'teleported', method: 'magic', active: null }, nb)).toBe('Dør: teleported (magic)');
    expect(eventText({ type: 'dose', kind: 'toString', method: null, active: null }, nb)).toBe('Dose: toString');
    expect(deviceKindText('dispenser', nb)).toBe('Medisindispenser');
    expect(deviceKindText('toaster', DICTIONARIES.en)).toBe('toaster');
  });

  it('lists every outcome and severity in the UI order', () => {
    expect([...OUTCOME_ORDER].sort()).toEqual([...OUTCOMES].sort());
    expect(SEVERITY_ORDER).toEqual(SEVERITIES);
  });

  it('translates known titles, falls back to the rule name in bokmål and the server title in English', () => {
    expect(alertTitle({ title: 'Fall detected', rule: 'fall' }, DICTIONARIES.nb)).toBe('Fall oppdaget');
    expect(alertTitle({ title: 'Something new', rule: 'smoke' }, DICTIONARIES.nb)).toBe('Røyk');
    expect(alertTitle({ title: 'Something new', rule: 'smoke' }, DICTIONARIES.en)).toBe('Something new');
  });

  it('explains known error codes and never shows an unknown one', () => {
    expect(errorText('TRY_ERR_LOGIN_FAILED', DICTIONARIES.nb)).toBe('Feil brukernavn eller passord.');
    expect(errorText('TRY_ERR_SOMETHING', DICTIONARIES.en)).toBe(DICTIONARIES.en.errors.generic);
    expect(errorText('toString', DICTIONARIES.en)).toBe(DICTIONARIES.en.errors.generic);
  });

  it('defaults to bokmål', () => {
    expect(parseLang(null)).toBe('nb');
    expect(parseLang('de')).toBe('nb');
    expect(parseLang('en')).toBe('en');
  });
});

describe('routes', () => {
  it('parses every client route the server serves', () => {
    const names = CLIENT_ROUTES.map((r) => parseRoute(r.replace(':id', 'x-1')).name);
    expect(names).not.toContain('notFound');
    expect(parseRoute('/alerts/a-17')).toEqual({ name: 'alert', id: 'a-17' });
    expect(pathOf({ name: 'alert', id: 'a-17' })).toBe('/alerts/a-17');
    const id = 'al-7d0c4c52-1f7e-4a51-9d0b-3f1c2a9e8b11:x';
    expect(parseRoute(pathOf({ name: 'alert', id }))).toEqual({ name: 'alert', id });
  });

  it('does not claim API or unknown paths', () => {
    for (const p of [
      '/api/v1/alerts',
      '/docs',
      '/metrics',
      '/healthz',
      '/alerts/a/b',
      '/alerts/%2e%2e',
      '/alerts/..',
      '/alerts/%E0%A4%A',
      '/alerts/a%20b',
    ]) {
      expect(parseRoute(p).name, p).toBe('notFound');
    }
  });

  it('only returns to our own pages after login', () => {
    expect(safeNext('/tavle?team=team-north')).toBe('/tavle?team=team-north');
    expect(safeNext('//evil.example/x')).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('/login')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});

describe('menu', () => {
  it('shows pages by role', () => {
    expect(navFor('nurse').map((i) => i.key)).toEqual(['alerts', 'homes', 'tavle']);
    expect(navFor('team_lead').map((i) => i.key)).toEqual(['alerts', 'homes', 'tavle', 'report']);
    expect(navFor('technician').map((i) => i.key)).toEqual(['devices', 'deadLetters']);
    expect(navFor('admin')).toHaveLength(NAV_ITEMS.length);
    expect(NAV_ITEMS.map((i) => i.key)).toEqual(['alerts', 'homes', 'tavle', 'report', 'devices', 'deadLetters']);
    for (const item of NAV_ITEMS) expect(parseRoute(item.path).name).not.toBe('notFound');
  });
});
