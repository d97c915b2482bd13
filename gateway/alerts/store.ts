import { randomUUID } from 'node:crypto';
import type { Database } from '../db/sqlite.js';
import { createSqliteDeviceStore } from '../devices/store.js';
import {
  dueSteps,
  initialSchedule,
  rescheduleForSeverity,
  resolvePolicy,
  type EscalationPolicyInput,
  type Schedule,
} from './escalation.js';
import { fail, guard, iso, parse } from './guard.js';
import {
  AcknowledgeInputSchema,
  ListFilterSchema,
  ResolveInputSchema,
  SEVERITY_RANK,
  type AcknowledgeInput,
  type Alert,
  type AlertTransition,
  type ListFilter,
  type ResolveInput,
  type TransitionDetail,
  type TransitionType,
} from './model.js';
import { createOutbox } from './outbox.js';
import { ReportQuerySchema, summarise, type FollowUpReport, type ReportQuery } from './report.js';
import { createSqliteAlertSql, type AlertValues } from './sql.js';
import { AlertSignalSchema, type AlertSignal } from './signal.js';

/*
 * The alert lifecycle (issue 5 item 4): signals in, transitions out. Every state change and its audit row and
 * outbox row are written in one transaction, so a channel can never announce a change that was rolled back,
 * nor miss one that was committed. Delivery itself is the channels' job (they poll pendingOutbox: outbox.ts).
 *
 * Style as in gateway/devices/registry.ts: commands throw AlertError for expected failures, look-ups return
 * undefined. Time comes from deps.now (signals carry their own `at`); nothing here starts a timer.
 */

export interface AlertStoreDeps {
  db: Database;
  /** Epoch ms; the same injected clock the rules use. */
  now: () => number;
  policy?: EscalationPolicyInput;
  /** Alert ids are opaque; injectable so tests and recordings can be deterministic. */
  newId?: () => string;
}

export type AlertStore = ReturnType<typeof createAlertStore>;

const SYSTEM = 'system';

export function createAlertStore(deps: AlertStoreDeps) {
  const policy = resolvePolicy(deps.policy);
  const sql = createSqliteAlertSql(deps.db);
  const homes = createSqliteDeviceStore(deps.db);
  const newId = deps.newId ?? (() => `al-${randomUUID()}`);

  /** Writes the audit row and the outbox row for the alert as it now is; call inside the transaction. */
  const emit = (alertId: string, type: TransitionType, at: number, actor: string, detail: TransitionDetail): AlertTransition => {
    const alert = sql.get(alertId);
    if (!alert) throw new Error(`alert ${alertId} vanished inside its own transaction`);
    const transition = sql.insertTransition(alert, type, iso(at), actor, detail);
    sql.insertOutbox(transition, alert, iso(deps.now()));
    return transition;
  };

  const requireAlert = (id: string): Alert => sql.get(id) ?? fail('TRY_ERR_ALERT_NOT_FOUND', `alert ${id} not found`);

  /** The team is fixed at raise time: a home moving team later must not re-route alerts already being handled. */
  const route = (homeId: string | null): { teamId: string; unroutedHome?: boolean } => {
    if (homeId === null) return { teamId: policy.opsTeamId };
    const home = homes.getHome(homeId);
    return home ? { teamId: home.teamId } : { teamId: policy.opsTeamId, unroutedHome: true };
  };

  const raise = (signal: AlertSignal): AlertTransition[] => {
    const actor = `rule:${signal.rule}`;
    const open = sql.findOpen(signal.homeId, signal.rule, signal.subject);
    const evidence = keepNewest(open?.evidence ?? [], signal.evidence, policy.evidenceLimit);

    if (!open) {
      const { teamId, unroutedHome } = route(signal.homeId);
      const id = newId();
      sql.insert({
        id,
        homeId: signal.homeId,
        teamId,
        rule: signal.rule,
        subject: signal.subject,
        kind: signal.kind,
        severity: signal.severity,
        title: signal.title,
        state: 'active',
        raisedAt: iso(signal.at),
        lastSeenAt: iso(signal.at),
        count: 1,
        clearedAt: null,
        evidence: evidence.kept,
        evidenceDropped: evidence.dropped,
        acknowledgedAt: null,
        acknowledgedBy: null,
        ackNote: null,
        resolvedAt: null,
        resolvedBy: null,
        outcome: null,
        resolveNote: null,
        overdueAt: null,
        ...scheduleValues(initialSchedule(policy, signal.severity, signal.at)),
      });
      return [emit(id, 'raised', signal.at, actor, { count: 1, evidenceAdded: signal.evidence.length, unroutedHome })];
    }

    const higher = SEVERITY_RANK[signal.severity] < SEVERITY_RANK[open.severity];
    const reactivated = open.state === 'cleared';
    let schedule = scheduleOf(open);
    if (higher) schedule = rescheduleForSeverity(policy, schedule, signal.severity, signal.at, open.ack === 'acknowledged');
    sql.update({
      ...values(open),
      ...scheduleValues(schedule),
      // The title follows the severity: "Bed exit at night" that became a fall should read as one.
      severity: higher ? signal.severity : open.severity,
      title: higher ? signal.title : open.title,
      state: 'active',
      clearedAt: null,
      count: open.count + 1,
      lastSeenAt: iso(Math.max(Date.parse(open.lastSeenAt), signal.at)),
      evidence: evidence.kept,
      evidenceDropped: open.evidenceDropped + evidence.dropped,
    });
    return [
      emit(open.id, 'deduped', signal.at, actor, {
        count: open.count + 1,
        evidenceAdded: signal.evidence.length,
        previousSeverity: higher ? open.severity : undefined,
        reactivated: reactivated ? true : undefined,
      }),
    ];
  };

  const clear = (signal: AlertSignal): AlertTransition[] => {
    const open = sql.findOpen(signal.homeId, signal.rule, signal.subject);
    // Rules may clear defensively (e.g. on every "door closed"): nothing open, or already cleared, is no change.
    if (!open || open.state === 'cleared') return [];
    // Escalation goes on: the condition ending does not mean anyone has checked on the patient.
    sql.update({ ...values(open), state: 'cleared', clearedAt: iso(signal.at) });
    return [emit(open.id, 'cleared', signal.at, `rule:${signal.rule}`, {})];
  };

  const acknowledgeNow = (alert: Alert, by: string, note: string | undefined, at: number, implicit: boolean): AlertTransition => {
    sql.update({
      ...values(alert),
      acknowledgedAt: iso(at),
      acknowledgedBy: by,
      ackNote: note ?? null,
      // Acknowledged: someone has it, so no more escalation or reminders (the follow-up deadline still runs).
      nextEscalationAt: null,
      nextReminderAt: null,
    });
    return emit(alert.id, 'acknowledged', at, by, {
      note,
      late: at > Date.parse(alert.ackDueAt),
      implicit: implicit ? true : undefined,
    });
  };

  const tickOne = (id: string, now: number): AlertTransition[] => {
    // Re-read under the write lock: another process may have acknowledged or ticked it since dueIds().
    const alert = sql.get(id);
    if (!alert?.open) return [];
    const out: AlertTransition[] = [];
    if (alert.ack === 'unacknowledged') {
      const { steps, schedule } = dueSteps(policy, alert.severity, scheduleOf(alert), now);
      sql.update({ ...values(alert), ...scheduleValues(schedule) });
      for (const step of steps) {
        out.push(
          emit(id, step.type, now, SYSTEM, {
            level: step.level,
            levelIndex: step.levelIndex,
            dueAt: iso(step.dueAt),
            reminder: step.type === 'reminded' ? step.reminder : undefined,
          }),
        );
      }
    }
    const current = requireAlert(id);
    if (current.overdueAt === null && Date.parse(current.followUpDueAt) <= now) {
      sql.update({ ...values(current), overdueAt: iso(now) });
      out.push(emit(id, 'overdue', now, SYSTEM, { dueAt: current.followUpDueAt }));
    }
    return out;
  };

  return {
    policy,
    // Reading, marking and pruning the outbox: the delivery channels' side (outbox.ts).
    ...createOutbox({ sql, now: deps.now }),

    /** Applies a rule's raise or clear. Returns the transitions it caused (none for a clear with nothing to clear). */
    apply: (input: AlertSignal): AlertTransition[] => {
      const signal = parse(AlertSignalSchema, input, 'TRY_ERR_ALERT_INVALID_SIGNAL');
      return guard('applying a signal', () => sql.transaction(() => (signal.action === 'raise' ? raise(signal) : clear(signal))));
    },

    acknowledge: (alertId: string, input: AcknowledgeInput): AlertTransition[] => {
      const { by, note } = parse(AcknowledgeInputSchema, input, 'TRY_ERR_ALERT_INVALID_INPUT');
      return guard('acknowledging an alert', () =>
        sql.transaction(() => {
          const alert = requireAlert(alertId);
          if (!alert.open) fail('TRY_ERR_ALERT_ALREADY_RESOLVED', `alert ${alertId} is already resolved`);
          if (alert.ack === 'acknowledged') {
            fail('TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED', `alert ${alertId} was already acknowledged by ${alert.acknowledgedBy ?? '?'}`);
          }
          return [acknowledgeNow(alert, by, note, deps.now(), false)];
        }),
      );
    },

    /**
     * Closes the alert with an outcome. Resolving one nobody acknowledged records the acknowledgement first
     * (same person, same time): whoever resolves it has evidently taken it, and the report needs both times.
     */
    resolve: (alertId: string, input: ResolveInput): AlertTransition[] => {
      const { by, outcome, note } = parse(ResolveInputSchema, input, 'TRY_ERR_ALERT_INVALID_INPUT');
      return guard('resolving an alert', () =>
        sql.transaction(() => {
          const at = deps.now();
          const first = requireAlert(alertId);
          if (!first.open) fail('TRY_ERR_ALERT_ALREADY_RESOLVED', `alert ${alertId} is already resolved`);
          const out = first.ack === 'unacknowledged' ? [acknowledgeNow(first, by, undefined, at, true)] : [];
          const alert = requireAlert(alertId);
          sql.update({
            ...values(alert),
            resolvedAt: iso(at),
            resolvedBy: by,
            outcome,
            resolveNote: note ?? null,
            nextEscalationAt: null,
            nextReminderAt: null,
          });
          out.push(emit(alertId, 'resolved', at, by, { outcome, note, late: at > Date.parse(alert.followUpDueAt) }));
          return out;
        }),
      );
    },

    /**
     * Fires every escalation, reminder and overdue step due at `now`, each once, and persists the next ones.
     * Called by a scheduler; safe to call late, early, twice, or from two processes.
     */
    tick: (now: number): AlertTransition[] => {
      if (!Number.isSafeInteger(now)) fail('TRY_ERR_ALERT_INVALID_INPUT', `tick time must be epoch ms, got ${String(now)}`);
      const ids = guard('finding due alerts', () => sql.dueIds(iso(now)));
      // One transaction per alert keeps the write lock short; one alert's steps are still all-or-nothing.
      return ids.flatMap((id) => guard('escalating an alert', () => sql.transaction(() => tickOne(id, now))));
    },

    /** Epoch ms of the earliest pending escalation, reminder or follow-up deadline; undefined when none. */
    nextDeadline: (): number | undefined => {
      const next = guard('reading deadlines', () => sql.nextDeadline());
      return next === undefined ? undefined : Date.parse(next);
    },

    get: (id: string): Alert | undefined => guard('reading an alert', () => sql.get(id)),

    /** Most urgent first: severity, then the oldest. Default: open alerts, at most 1000. */
    list: (filter: ListFilter = {}): Alert[] => {
      const parsed = parse(ListFilterSchema, filter, 'TRY_ERR_ALERT_INVALID_INPUT');
      return guard('listing alerts', () => sql.list(parsed));
    },

    /** Every transition of the alert, oldest first; empty for an unknown id. */
    timeline: (alertId: string): AlertTransition[] => guard('reading a timeline', () => sql.timeline(alertId)),

    /** Alerts raised in [from, to), per team, judged at deps.now(). Render with reportToCsv / reportToJson. */
    followUpReport: (query: ReportQuery): FollowUpReport => {
      const q = parse(ReportQuerySchema, query, 'TRY_ERR_ALERT_INVALID_INPUT');
      const period = { from: iso(q.from), to: iso(q.to), teamId: q.teamId };
      const rows = guard('reading the report', () => sql.reportRows(period.from, period.to, q.teamId));
      return summarise(rows, period, iso(deps.now()));
    },
  };
}

function scheduleOf(a: Alert): Schedule {
  return {
    ackDueAt: Date.parse(a.ackDueAt),
    followUpDueAt: Date.parse(a.followUpDueAt),
    escalationLevel: a.escalationLevel,
    nextEscalationAt: a.nextEscalationAt === null ? null : Date.parse(a.nextEscalationAt),
    nextReminderAt: a.nextReminderAt === null ? null : Date.parse(a.nextReminderAt),
    reminders: a.reminders,
  };
}

function scheduleValues(s: Schedule) {
  return {
    ackDueAt: iso(s.ackDueAt),
    followUpDueAt: iso(s.followUpDueAt),
    escalationLevel: s.escalationLevel,
    nextEscalationAt: s.nextEscalationAt === null ? null : iso(s.nextEscalationAt),
    nextReminderAt: s.nextReminderAt === null ? null : iso(s.nextReminderAt),
    reminders: s.reminders,
  };
}

function values(a: Alert): AlertValues {
  const { ack: _ack, open: _open, ...rest } = a;
  return rest;
}

function keepNewest<T>(old: readonly T[], added: readonly T[], limit: number): { kept: T[]; dropped: number } {
  const all = [...old, ...added];
  const kept = all.slice(-limit);
  return { kept, dropped: all.length - kept.length };
}
