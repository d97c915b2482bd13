import type { ServerResponse } from 'node:http';
import type { NamedAlert as Alert, NamedTransition as AlertTransition, Outcome, TransitionType } from '../../gateway/alerts/model.js';
import type { RuleId, Severity } from '../../gateway/alerts/signal.js';

// The state of the STUB API (stub-api.ts), a test double of the dashboard's contract: users, sessions,
// alerts, their timelines, the outbox the stream replays from, and the open streams. It lives outside any
// fastify instance, so a test can stop the server and start another on the same port (a "gateway restart")
// with everything intact, as it is in SQLite for the real gateway.

export interface StubUser {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly role: 'nurse' | 'team_lead' | 'technician' | 'admin';
  readonly teams: readonly string[];
  readonly password: string;
}

export interface Session {
  readonly user: StubUser;
  readonly csrfToken: string;
}

export interface StreamClient {
  readonly res: ServerResponse;
  readonly teams: readonly string[];
}

export interface RaiseInput {
  readonly id: string;
  readonly rule: RuleId;
  readonly severity: Severity;
  readonly title: string;
  readonly homeId?: string | null;
  readonly teamId?: string;
  readonly kind?: 'care' | 'technical';
  /** Minutes ago (default 0). */
  readonly agoMinutes?: number;
}

export interface StubCall {
  readonly method: string;
  readonly url: string;
  readonly csrf: string | undefined;
}

const FOLLOW_UP_MIN: Record<Severity, number> = { critical: 30, high: 120, medium: 480, low: 4320 };
const ACK_MIN: Record<Severity, number> = { critical: 5, high: 15, medium: 60, low: 1440 };
const RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export function createStubState(users: readonly StubUser[]) {
  const alerts = new Map<string, Alert>();
  const timeline = new Map<
    string,
    { type: TransitionType; at: string; actor: string; actorName: string; detail: AlertTransition['detail'] }[]
  >();
  /** As the gateway names actors for a session: a user's display name, anything else as it is. */
  const nameOf = (actor: string): string => users.find((u) => u.id === actor)?.displayName ?? actor;
  const outbox: { id: number; alert: Alert; transition: AlertTransition }[] = [];
  const sessions = new Map<string, Session>();
  const clients = new Set<StreamClient>();
  const calls: StubCall[] = [];
  /** The next acknowledge answers with this error (after `ackDelayMs`). */
  let failNextAck: { status: number; code: string } | undefined;
  let ackDelayMs = 0;

  function publish(alert: Alert, type: TransitionType, actor: string, detail: AlertTransition['detail'] = {}): void {
    const at = new Date().toISOString();
    const transition: AlertTransition = {
      id: outbox.length + 1,
      alertId: alert.id,
      type,
      at,
      actor,
      actorName: nameOf(actor),
      teamId: alert.teamId,
      homeId: alert.homeId,
      rule: alert.rule,
      subject: alert.subject,
      severity: alert.severity,
      detail,
    };
    outbox.push({ id: transition.id, alert, transition });
    timeline.get(alert.id)?.push({ type, at, actor, actorName: nameOf(actor), detail });
    for (const c of clients) {
      if (c.teams.includes(alert.teamId)) c.res.write(frame(transition.id, alert, transition));
    }
  }

  function frame(id: number, alert: Alert, transition: AlertTransition): string {
    return `id: ${id}\nevent: alert\ndata: ${JSON.stringify({ transition, alert })}\n\n`;
  }

  function raise(input: RaiseInput): Alert {
    const raisedMs = Date.now() - (input.agoMinutes ?? 0) * 60_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const alert: Alert = {
      id: input.id,
      homeId: input.homeId === undefined ? 'h-0001' : input.homeId,
      teamId: input.teamId ?? 'team-north',
      rule: input.rule,
      subject: 'subject',
      kind: input.kind ?? 'care',
      severity: input.severity,
      title: input.title,
      state: 'active',
      ack: 'unacknowledged',
      open: true,
      raisedAt: iso(raisedMs),
      lastSeenAt: iso(raisedMs),
      count: 1,
      clearedAt: null,
      evidence: [{ eventId: `ev-${input.id}`, deviceId: 'sim-h0001-sensor-1', observedAt: iso(raisedMs), note: 'sensor reported it' }],
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
      ackDueAt: iso(raisedMs + ACK_MIN[input.severity] * 60_000),
      followUpDueAt: iso(raisedMs + FOLLOW_UP_MIN[input.severity] * 60_000),
      escalationLevel: 0,
      nextEscalationAt: null,
      nextReminderAt: null,
      reminders: 0,
      overdueAt: null,
    };
    alerts.set(alert.id, alert);
    timeline.set(alert.id, []);
    publish(alert, 'raised', `rule:${input.rule}`);
    return alert;
  }

  function acknowledge(id: string, actor: string): Alert {
    const a = alerts.get(id);
    if (a === undefined) throw new Error(`no alert ${id}`);
    const next: Alert = {
      ...a,
      ack: 'acknowledged',
      acknowledgedBy: actor,
      acknowledgedByName: nameOf(actor),
      acknowledgedAt: new Date().toISOString(),
    };
    alerts.set(id, next);
    publish(next, 'acknowledged', actor);
    return next;
  }

  function resolve(id: string, actor: string, outcome: Outcome, note?: string): Alert {
    const a = alerts.get(id);
    if (a === undefined) throw new Error(`no alert ${id}`);
    const now = new Date().toISOString();
    const acked =
      a.ack === 'acknowledged'
        ? a
        : { ...a, ack: 'acknowledged' as const, acknowledgedBy: actor, acknowledgedByName: nameOf(actor), acknowledgedAt: now };
    const next: Alert = {
      ...acked,
      open: false,
      resolvedAt: now,
      resolvedBy: actor,
      resolvedByName: nameOf(actor),
      outcome,
      resolveNote: note ?? null,
    };
    alerts.set(id, next);
    publish(next, 'resolved', actor, {
      outcome,
      ...(note === undefined ? {} : { note }),
      ...(a.ack === 'acknowledged' ? {} : { implicit: true }),
    });
    return next;
  }

  return {
    users,
    alerts,
    timeline,
    outbox,
    sessions,
    clients,
    calls,
    raise,
    acknowledge,
    resolve,
    openAlerts: (teams: readonly string[]) =>
      [...alerts.values()]
        .filter((a) => a.open && teams.includes(a.teamId))
        .sort((a, b) => RANK[a.severity] - RANK[b.severity] || a.raisedAt.localeCompare(b.raisedAt) || a.id.localeCompare(b.id)),
    failNextAck(err: { status: number; code: string }) {
      failNextAck = err;
    },
    takeAckFailure() {
      const f = failNextAck;
      failNextAck = undefined;
      return f;
    },
    setAckDelay(ms: number) {
      ackDelayMs = ms;
    },
    ackDelay: () => ackDelayMs,
  };
}

export type StubState = ReturnType<typeof createStubState>;
