import { z } from 'zod';
import { HomeIdSchema, ID_PATTERN, TeamIdSchema } from '../devices/ids.js';
import { AlertKindSchema, EvidenceSchema, RuleIdSchema, SEVERITIES, SeveritySchema, type Severity } from './signal.js';

// The alert lifecycle's records and inputs (issue 5 item 4). Times are ISO-8601 UTC strings, as in the
// database (gateway/db/migrations.ts); inputs that come from the injected clock are epoch ms.

const IsoTime = z.iso.datetime();

/** Lower is more urgent: lists and tick() handle critical alerts first. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<
  Severity,
  number
>;

/** How a follow-up ended, as the nurse reports it; an enum so the report can count them. */
export const OUTCOMES = ['visited_ok', 'visited_action_taken', 'contacted_by_phone', 'false_alarm', 'technical_fixed', 'other'] as const;
export const OutcomeSchema = z.enum(OUTCOMES);
export type Outcome = z.infer<typeof OutcomeSchema>;

export const TRANSITION_TYPES = ['raised', 'deduped', 'cleared', 'acknowledged', 'resolved', 'escalated', 'reminded', 'overdue'] as const;
export const TransitionTypeSchema = z.enum(TRANSITION_TYPES);
export type TransitionType = z.infer<typeof TransitionTypeSchema>;

/** ThingsBoard's two axes: whether the condition still holds, and whether a person has taken it. */
export const AlertStateSchema = z.enum(['active', 'cleared']);
export const AckStateSchema = z.enum(['unacknowledged', 'acknowledged']);

/** Staff or service-account id. Bounded and single-line; it is printed in reports and the audit trail. */
export const ActorSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\p{Cc}]+$/u, { error: 'actor must not contain control characters' });

/** Free text from a nurse. It may reach home-service systems, never logs. */
export const NoteSchema = z.string().min(1).max(500);

export const AlertSchema = z.object({
  id: z.string(),
  homeId: HomeIdSchema.nullable(),
  teamId: TeamIdSchema,
  rule: RuleIdSchema,
  subject: z.string(),
  kind: AlertKindSchema,
  severity: SeveritySchema,
  title: z.string(),
  state: AlertStateSchema,
  ack: AckStateSchema,
  /** false once resolved: the (home, rule, subject) is free for a new alert. */
  open: z.boolean(),
  raisedAt: IsoTime,
  lastSeenAt: IsoTime,
  count: z.number().int().positive(),
  clearedAt: IsoTime.nullable(),
  /** The newest evidence only (bounded by the policy); evidenceDropped counts what was let go. */
  evidence: z.array(EvidenceSchema),
  evidenceDropped: z.number().int().nonnegative(),
  acknowledgedAt: IsoTime.nullable(),
  acknowledgedBy: z.string().nullable(),
  ackNote: z.string().nullable(),
  resolvedAt: IsoTime.nullable(),
  resolvedBy: z.string().nullable(),
  outcome: OutcomeSchema.nullable(),
  resolveNote: z.string().nullable(),
  ackDueAt: IsoTime,
  followUpDueAt: IsoTime,
  /** Index into the policy's chain: 0 is the team, who is notified at raise. */
  escalationLevel: z.number().int().nonnegative(),
  nextEscalationAt: IsoTime.nullable(),
  nextReminderAt: IsoTime.nullable(),
  reminders: z.number().int().nonnegative(),
  /** When the follow-up deadline passed unresolved (the `overdue` transition), else null. */
  overdueAt: IsoTime.nullable(),
});
export type Alert = z.infer<typeof AlertSchema>;

/** What a transition carries beyond its type; every field is optional so the shape never changes type. */
export const TransitionDetailSchema = z.object({
  count: z.number().int().optional(),
  previousSeverity: SeveritySchema.optional(),
  /** A raise for a cleared (not yet resolved) alert made it active again. */
  reactivated: z.boolean().optional(),
  evidenceAdded: z.number().int().optional(),
  /** The home is not in the registry: routed to the ops team so the alert is not lost. */
  unroutedHome: z.boolean().optional(),
  /** Escalation chain level name notified by this transition (escalated, reminded). */
  level: z.string().optional(),
  levelIndex: z.number().int().optional(),
  /** The deadline this step belongs to; `at` is when tick() actually ran. */
  dueAt: IsoTime.optional(),
  reminder: z.number().int().optional(),
  /** Acknowledged or resolved after its deadline. */
  late: z.boolean().optional(),
  /** Acknowledgement recorded by resolve() for an alert nobody had acknowledged. */
  implicit: z.boolean().optional(),
  outcome: OutcomeSchema.optional(),
  note: z.string().optional(),
});
export type TransitionDetail = z.infer<typeof TransitionDetailSchema>;

export const AlertTransitionSchema = z.object({
  id: z.number().int(),
  alertId: z.string(),
  type: TransitionTypeSchema,
  at: IsoTime,
  /** `rule:<id>` for signals, `system` for tick(), the staff id for acknowledge/resolve. */
  actor: z.string(),
  teamId: TeamIdSchema,
  homeId: HomeIdSchema.nullable(),
  rule: RuleIdSchema,
  subject: z.string(),
  severity: SeveritySchema,
  detail: TransitionDetailSchema,
});
export type AlertTransition = z.infer<typeof AlertTransitionSchema>;

/**
 * An alert as the HTTP API answers a dashboard: the alert with the names of the people who acknowledged and
 * resolved it (gateway/http/alert-routes.ts looks them up). Only in HTTP answers and a session's live stream:
 * the outbox, MQTT and webhooks carry ids alone.
 */
export const NamedAlertSchema = AlertSchema.extend({
  /**
   * Who acknowledged it, as a colleague knows them: a user's display name. A service account, a staff id from
   * the CLI or a user no longer known keeps its id; a service-account caller always gets the id. null = nobody yet.
   */
  acknowledgedByName: z.string().nullable(),
  /** Who resolved it, as `acknowledgedByName`. */
  resolvedByName: z.string().nullable(),
});
export type NamedAlert = z.infer<typeof NamedAlertSchema>;

/** A transition as the HTTP API answers a dashboard: with its actor's name. */
export const NamedTransitionSchema = AlertTransitionSchema.extend({
  /** A user's display name; anything else (`rule:<id>`, `system`, a service account, an unknown user) is the actor itself. */
  actorName: z.string(),
});
export type NamedTransition = z.infer<typeof NamedTransitionSchema>;

/** A delivery channel's name ("sse", "mqtt", "webhook-team-north"): same shape as other ids. */
export const ChannelSchema = z.string().regex(ID_PATTERN, { error: 'channel must be 3–64 characters: a-z, 0-9, ".", "_" or "-"' });

export const OutboxEntrySchema = z.object({
  id: z.number().int().positive(),
  teamId: TeamIdSchema,
  severity: SeveritySchema,
  createdAt: IsoTime,
  transition: AlertTransitionSchema,
  /** The alert as it was right after the transition, so a channel never has to read the store. */
  alert: AlertSchema,
});
export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;

export const AcknowledgeInputSchema = z.object({ by: ActorSchema, note: NoteSchema.optional() });
export type AcknowledgeInput = z.input<typeof AcknowledgeInputSchema>;

export const ResolveInputSchema = z
  .object({ by: ActorSchema, outcome: OutcomeSchema, note: NoteSchema.optional() })
  // "other" says nothing on its own; the report and the supervisor need the reason.
  .refine((r) => r.outcome !== 'other' || r.note !== undefined, { error: 'outcome "other" needs a note', path: ['note'] });
export type ResolveInput = z.input<typeof ResolveInputSchema>;

/** `open` (the default) is what a nurse's list shows: everything not yet resolved. */
export const ListStateSchema = z.enum(['open', 'active', 'cleared', 'unacknowledged', 'acknowledged', 'resolved', 'all']);

export const ListFilterSchema = z.object({
  teamId: TeamIdSchema.optional(),
  homeId: HomeIdSchema.optional(),
  state: ListStateSchema.default('open'),
  severity: SeveritySchema.optional(),
  limit: z.number().int().min(1).max(5000).default(1000),
});
export type ListFilter = z.input<typeof ListFilterSchema>;

export const ALERT_ERROR_CODES = [
  'TRY_ERR_ALERT_INVALID_SIGNAL',
  'TRY_ERR_ALERT_INVALID_INPUT',
  'TRY_ERR_ALERT_INVALID_POLICY',
  'TRY_ERR_ALERT_NOT_FOUND',
  'TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED',
  'TRY_ERR_ALERT_ALREADY_RESOLVED',
  'TRY_ERR_ALERT_OUTBOX_UNKNOWN',
  'TRY_ERR_ALERT_STORAGE',
] as const;
export type AlertErrorCode = (typeof ALERT_ERROR_CODES)[number];

/** Expected failures of the alert store; the code is stable for runbooks, the API and tests. */
export class AlertError extends Error {
  override readonly name = 'AlertError';
  constructor(
    readonly code: AlertErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
