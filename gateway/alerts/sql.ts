import type { Database } from '../db/sqlite.js';
import type { Alert, AlertTransition, ListFilterSchema, OutboxEntry, TransitionDetail, TransitionType } from './model.js';
import type { Evidence, RuleId, Severity } from './signal.js';
import type { z } from 'zod';

/*
 * The alert store's SQL, and nothing else: no validation, no lifecycle rules (those are in store.ts). This is
 * the seam a PostgreSQL backend replaces. Statements are prepared once; apply() runs for every signal.
 */

interface AlertRow {
  id: string;
  home_id: string | null;
  team_id: string;
  rule: string;
  subject: string;
  kind: string;
  severity: string;
  title: string;
  state: string;
  raised_at: string;
  last_seen_at: string;
  count: number;
  cleared_at: string | null;
  evidence: string;
  evidence_dropped: number;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  ack_note: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  outcome: string | null;
  resolve_note: string | null;
  ack_due_at: string;
  follow_up_due_at: string;
  escalation_level: number;
  next_escalation_at: string | null;
  next_reminder_at: string | null;
  reminders: number;
  overdue_at: string | null;
}

interface TransitionRow {
  id: number;
  alert_id: string;
  type: string;
  at: string;
  actor: string;
  severity: string;
  detail: string;
  team_id: string;
  home_id: string | null;
  rule: string;
  subject: string;
}

interface OutboxRow {
  id: number;
  created_at: string;
  payload: string;
}

export interface ReportRow {
  teamId: string;
  ackDueAt: string;
  acknowledgedAt: string | null;
  followUpDueAt: string;
  resolvedAt: string | null;
}

/** Column values for an insert or a full update, camelCased; times are ISO text. */
export type AlertValues = Omit<Alert, 'ack' | 'open' | 'evidence'> & { evidence: Evidence[] };

// Critical first, then the oldest: the order a nurse should work through them.
const SEVERITY_ORDER = `CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END`;

const LIST_STATE = `(
  (@state = 'all') OR
  (@state = 'open' AND resolved_at IS NULL) OR
  (@state = 'resolved' AND resolved_at IS NOT NULL) OR
  (@state IN ('active', 'cleared') AND resolved_at IS NULL AND state = @state) OR
  (@state = 'unacknowledged' AND resolved_at IS NULL AND acknowledged_at IS NULL) OR
  (@state = 'acknowledged' AND resolved_at IS NULL AND acknowledged_at IS NOT NULL))`;

/**
 * A channel's pending entries, oldest first, so it delivers in transition order. Only ids above its cursor
 * (@after) are read, so the cost is its undelivered window, not everything it ever delivered; NOT EXISTS skips
 * the entries in that window that were delivered out of order. Exported for the query-plan test.
 */
export const PENDING_SQL = `SELECT o.id, o.created_at, o.payload FROM alert_outbox o
  WHERE o.id > @after
    AND NOT EXISTS (SELECT 1 FROM alert_outbox_deliveries d WHERE d.channel = @channel AND d.outbox_id = o.id)
  ORDER BY o.id LIMIT @limit`;

const TRANSITION_SELECT = `
  SELECT t.id, t.alert_id, t.type, t.at, t.actor, t.severity, t.detail, a.team_id, a.home_id, a.rule, a.subject
  FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id`;

export function createSqliteAlertSql(db: Database) {
  const s = {
    insert: db.prepare(
      `INSERT INTO alerts (id, home_id, team_id, rule, subject, kind, severity, title, state, raised_at, last_seen_at, count,
         cleared_at, evidence, evidence_dropped, acknowledged_at, acknowledged_by, ack_note, resolved_at, resolved_by, outcome,
         resolve_note, ack_due_at, follow_up_due_at, escalation_level, next_escalation_at, next_reminder_at, reminders, overdue_at)
       VALUES (@id, @homeId, @teamId, @rule, @subject, @kind, @severity, @title, @state, @raisedAt, @lastSeenAt, @count,
         @clearedAt, @evidence, @evidenceDropped, @acknowledgedAt, @acknowledgedBy, @ackNote, @resolvedAt, @resolvedBy, @outcome,
         @resolveNote, @ackDueAt, @followUpDueAt, @escalationLevel, @nextEscalationAt, @nextReminderAt, @reminders, @overdueAt)`,
    ),
    // Every mutable column in one statement: the lifecycle computes the new row, the SQL just stores it.
    update: db.prepare(
      `UPDATE alerts SET severity = @severity, title = @title, state = @state, last_seen_at = @lastSeenAt, count = @count,
         cleared_at = @clearedAt, evidence = @evidence, evidence_dropped = @evidenceDropped, acknowledged_at = @acknowledgedAt,
         acknowledged_by = @acknowledgedBy, ack_note = @ackNote, resolved_at = @resolvedAt, resolved_by = @resolvedBy,
         outcome = @outcome, resolve_note = @resolveNote, ack_due_at = @ackDueAt, follow_up_due_at = @followUpDueAt,
         escalation_level = @escalationLevel, next_escalation_at = @nextEscalationAt, next_reminder_at = @nextReminderAt,
         reminders = @reminders, overdue_at = @overdueAt
       WHERE id = @id`,
    ),
    get: db.prepare<[string], AlertRow>('SELECT * FROM alerts WHERE id = ?'),
    findOpen: db.prepare<[string, string, string], AlertRow>(
      `SELECT * FROM alerts WHERE coalesce(home_id, '') = ? AND rule = ? AND subject = ? AND resolved_at IS NULL`,
    ),
    list: db.prepare<{ teamId: string | null; homeId: string | null; state: string; severity: string | null; limit: number }, AlertRow>(
      `SELECT * FROM alerts
       WHERE (@teamId IS NULL OR team_id = @teamId) AND (@homeId IS NULL OR home_id = @homeId)
         AND (@severity IS NULL OR severity = @severity) AND ${LIST_STATE}
       ORDER BY ${SEVERITY_ORDER}, raised_at, id LIMIT @limit`,
    ),
    dueIds: db
      .prepare<{ now: string }, string>(
        `SELECT id FROM alerts WHERE id IN (
           SELECT id FROM alerts WHERE next_escalation_at <= @now
           UNION SELECT id FROM alerts WHERE next_reminder_at <= @now
           UNION SELECT id FROM alerts WHERE follow_up_due_at <= @now AND resolved_at IS NULL AND overdue_at IS NULL)
         ORDER BY ${SEVERITY_ORDER}, raised_at, id`,
      )
      .pluck(),
    nextDeadline: db
      .prepare<[], string | null>(
        `SELECT min(t) FROM (
           SELECT min(next_escalation_at) AS t FROM alerts WHERE next_escalation_at IS NOT NULL
           UNION ALL SELECT min(next_reminder_at) FROM alerts WHERE next_reminder_at IS NOT NULL
           UNION ALL SELECT min(follow_up_due_at) FROM alerts WHERE resolved_at IS NULL AND overdue_at IS NULL)`,
      )
      .pluck(),
    reportRows: db.prepare<{ from: string; to: string; teamId: string | null }, Record<string, string | null>>(
      `SELECT team_id, ack_due_at, acknowledged_at, follow_up_due_at, resolved_at FROM alerts
       WHERE raised_at >= @from AND raised_at < @to AND (@teamId IS NULL OR team_id = @teamId)
       ORDER BY team_id`,
    ),

    insertTransition: db.prepare('INSERT INTO alert_transitions (alert_id, type, at, actor, severity, detail) VALUES (?, ?, ?, ?, ?, ?)'),
    transition: db.prepare<[number], TransitionRow>(`${TRANSITION_SELECT} WHERE t.id = ?`),
    timeline: db.prepare<[string], TransitionRow>(`${TRANSITION_SELECT} WHERE t.alert_id = ? ORDER BY t.id`),

    insertOutbox: db.prepare('INSERT INTO alert_outbox (transition_id, team_id, severity, created_at, payload) VALUES (?, ?, ?, ?, ?)'),
    pending: db.prepare<{ channel: string; after: number; limit: number }, OutboxRow>(PENDING_SQL),
    since: db.prepare<{ after: number; limit: number }, OutboxRow>(
      'SELECT o.id, o.created_at, o.payload FROM alert_outbox o WHERE o.id > @after ORDER BY o.id LIMIT @limit',
    ),
    // The highest id ever written, even when pruning has deleted it: AUTOINCREMENT keeps it in sqlite_sequence.
    // An SSE client's Last-Event-ID and a new channel's cursor compare against ids, not against what is left.
    lastOutboxId: db
      .prepare<[], number>(
        `SELECT max(coalesce((SELECT max(id) FROM alert_outbox), 0),
                    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'alert_outbox'), 0))`,
      )
      .pluck(),
    oldestOutboxId: db.prepare<[], number | null>('SELECT min(id) FROM alert_outbox').pluck(),
    markDelivered: db.prepare('INSERT OR IGNORE INTO alert_outbox_deliveries (channel, outbox_id, delivered_at) VALUES (?, ?, ?)'),

    cursor: db.prepare<[string], number>('SELECT delivered_through FROM alert_outbox_cursors WHERE channel = ?').pluck(),
    cursors: db.prepare<[], { channel: string; delivered_through: number }>('SELECT channel, delivered_through FROM alert_outbox_cursors'),
    openCursor: db.prepare<[string, number]>('INSERT OR IGNORE INTO alert_outbox_cursors (channel, delivered_through) VALUES (?, ?)'),
    // Moves the cursor to just before the first entry above it not delivered for the channel, or to the last entry
    // when there is none; never backwards (pruning may have deleted the newest rows). The scan stops at the first
    // gap, so it reads only what was delivered since the cursor last moved.
    advanceCursor: db.prepare<[string, string]>(
      `UPDATE alert_outbox_cursors SET delivered_through = max(delivered_through, coalesce(
         (SELECT o.id - 1 FROM alert_outbox o
           WHERE o.id > alert_outbox_cursors.delivered_through
             AND NOT EXISTS (SELECT 1 FROM alert_outbox_deliveries d WHERE d.channel = ? AND d.outbox_id = o.id)
           ORDER BY o.id LIMIT 1),
         (SELECT max(id) FROM alert_outbox),
         delivered_through))
       WHERE channel = ?`,
    ),
    outboxHead: db.prepare<{ through: number; limit: number }, { id: number; created_at: string }>(
      'SELECT id, created_at FROM alert_outbox WHERE id <= @through ORDER BY id LIMIT @limit',
    ),
    deleteDeliveriesThrough: db.prepare<[number]>('DELETE FROM alert_outbox_deliveries WHERE outbox_id <= ?'),
    deleteOutboxThrough: db.prepare<[number]>('DELETE FROM alert_outbox WHERE id <= ?'),
  };

  return {
    /** Runs fn in an IMMEDIATE transaction (a savepoint when already inside one, so callers can compose). */
    transaction<T>(fn: () => T): T {
      return db.transaction(fn).immediate();
    },
    insert(a: AlertValues): void {
      s.insert.run(toParams(a));
    },
    update(a: AlertValues): void {
      s.update.run(toParams(a));
    },
    get(id: string): Alert | undefined {
      const row = s.get.get(id);
      return row && toAlert(row);
    },
    findOpen(homeId: string | null, rule: string, subject: string): Alert | undefined {
      const row = s.findOpen.get(homeId ?? '', rule, subject);
      return row && toAlert(row);
    },
    list(f: z.output<typeof ListFilterSchema>): Alert[] {
      return s.list
        .all({ teamId: f.teamId ?? null, homeId: f.homeId ?? null, state: f.state, severity: f.severity ?? null, limit: f.limit })
        .map(toAlert);
    },
    dueIds(now: string): string[] {
      return s.dueIds.all({ now });
    },
    nextDeadline(): string | undefined {
      return s.nextDeadline.get() ?? undefined;
    },
    reportRows(from: string, to: string, teamId: string | undefined): ReportRow[] {
      return s.reportRows.all({ from, to, teamId: teamId ?? null }).map((r) => ({
        teamId: r.team_id as string,
        ackDueAt: r.ack_due_at as string,
        acknowledgedAt: r.acknowledged_at ?? null,
        followUpDueAt: r.follow_up_due_at as string,
        resolvedAt: r.resolved_at ?? null,
      }));
    },

    insertTransition(alert: Alert, type: TransitionType, at: string, actor: string, detail: TransitionDetail): AlertTransition {
      const id = Number(s.insertTransition.run(alert.id, type, at, actor, alert.severity, JSON.stringify(detail)).lastInsertRowid);
      const row = s.transition.get(id);
      if (!row) throw new Error(`transition ${id} vanished inside its own transaction`);
      return toTransition(row);
    },
    timeline(alertId: string): AlertTransition[] {
      return s.timeline.all(alertId).map(toTransition);
    },

    insertOutbox(transition: AlertTransition, alert: Alert, createdAt: string): void {
      s.insertOutbox.run(transition.id, alert.teamId, transition.severity, createdAt, JSON.stringify({ transition, alert }));
    },
    /** Entries above `after` this channel has not marked delivered, oldest first. */
    pending(channel: string, after: number, limit: number): OutboxEntry[] {
      return s.pending.all({ channel, after, limit }).map(toOutboxEntry);
    },
    /** Entries after an id, oldest first, whoever has delivered them (live streams resume from an id). */
    since(after: number, limit: number): OutboxEntry[] {
      return s.since.all({ after, limit }).map(toOutboxEntry);
    },
    lastOutboxId(): number {
      return s.lastOutboxId.get() ?? 0;
    },
    /** The smallest id still stored; undefined when the outbox is empty. */
    oldestOutboxId(): number | undefined {
      return s.oldestOutboxId.get() ?? undefined;
    },
    /** Returns how many were newly marked (already-delivered ids are ignored: delivery may be retried). */
    markDelivered(channel: string, id: number, at: string): number {
      return s.markDelivered.run(channel, id, at).changes;
    },

    /** Every id up to the returned one is delivered for the channel; undefined when it has no cursor yet. */
    cursor(channel: string): number | undefined {
      return s.cursor.get(channel);
    },
    cursors(): Map<string, number> {
      return new Map(s.cursors.all().map((r) => [r.channel, r.delivered_through]));
    },
    /** Creates the channel's cursor at `through` unless it has one. */
    openCursor(channel: string, through: number): void {
      s.openCursor.run(channel, through);
    },
    advanceCursor(channel: string): void {
      s.advanceCursor.run(channel, channel);
    },
    /** Ids and creation times of the oldest entries up to `through`. */
    outboxHead(through: number, limit: number): { id: number; createdAt: string }[] {
      return s.outboxHead.all({ through, limit }).map((r) => ({ id: r.id, createdAt: r.created_at }));
    },
    /** Deletes every entry up to `through` and its delivery rows; returns how many entries. */
    deleteOutboxThrough(through: number): number {
      s.deleteDeliveriesThrough.run(through);
      return s.deleteOutboxThrough.run(through).changes;
    },
  };
}

export type AlertSql = ReturnType<typeof createSqliteAlertSql>;

function toParams(a: AlertValues): Record<string, unknown> {
  return { ...a, evidence: JSON.stringify(a.evidence) };
}

function toAlert(row: AlertRow): Alert {
  return {
    id: row.id,
    homeId: row.home_id,
    teamId: row.team_id,
    // The columns' CHECK constraints (and apply()'s validation) admit only these values.
    rule: row.rule as RuleId,
    subject: row.subject,
    kind: row.kind as Alert['kind'],
    severity: row.severity as Severity,
    title: row.title,
    state: row.state as Alert['state'],
    ack: row.acknowledged_at === null ? 'unacknowledged' : 'acknowledged',
    open: row.resolved_at === null,
    raisedAt: row.raised_at,
    lastSeenAt: row.last_seen_at,
    count: row.count,
    clearedAt: row.cleared_at,
    evidence: JSON.parse(row.evidence) as Evidence[],
    evidenceDropped: row.evidence_dropped,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
    ackNote: row.ack_note,
    resolvedAt: row.resolved_at,
    resolvedBy: row.resolved_by,
    outcome: row.outcome as Alert['outcome'],
    resolveNote: row.resolve_note,
    ackDueAt: row.ack_due_at,
    followUpDueAt: row.follow_up_due_at,
    escalationLevel: row.escalation_level,
    nextEscalationAt: row.next_escalation_at,
    nextReminderAt: row.next_reminder_at,
    reminders: row.reminders,
    overdueAt: row.overdue_at,
  };
}

function toTransition(row: TransitionRow): AlertTransition {
  return {
    id: row.id,
    alertId: row.alert_id,
    type: row.type as TransitionType,
    at: row.at,
    actor: row.actor,
    teamId: row.team_id,
    homeId: row.home_id,
    rule: row.rule as RuleId,
    subject: row.subject,
    severity: row.severity as Severity,
    detail: JSON.parse(row.detail) as TransitionDetail,
  };
}

function toOutboxEntry(row: OutboxRow): OutboxEntry {
  const payload = JSON.parse(row.payload) as { transition: AlertTransition; alert: Alert };
  return { id: row.id, teamId: payload.alert.teamId, severity: payload.transition.severity, createdAt: row.created_at, ...payload };
}
