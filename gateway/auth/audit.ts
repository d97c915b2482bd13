import { z } from 'zod';
import type { Database } from '../db/sqlite.js';

/*
 * The audit log (issue 6 item 2): who viewed which team's, home's or alert's data, and who changed what, with
 * the outcome — refusals included, so that someone probing other teams' alerts shows up. Health data is
 * special-category data (GDPR art. 9), and the Norwegian "Normen" expects access to it to be logged and
 * reviewable. Entries carry ids only: user ids, alert ids, team ids — never a name, a note or a password.
 */

export const AUDIT_ACTIONS = [
  'session.login',
  'session.logout',
  // A call the guard refused for the caller's role (or a wall-board session's read-only set): detail has the route.
  'api.request',
  'alert.list',
  'alert.stream',
  'alert.view',
  'alert.ack',
  'alert.resolve',
  'report.view',
  // Homes, devices, dead letters, care data, users (issue 6 item 1): every view of a home's data, every change.
  'home.list',
  'home.view',
  'home.series',
  'care.view',
  'care.update',
  'device.list',
  'device.assign',
  'device.disable',
  'device.enable',
  'device.rotate_secret',
  'deadletter.list',
  'deadletter.view',
  'deadletter.replay',
  'user.list',
  'user.add',
  'user.enable',
  'user.disable',
  'user.password_reset',
] as const;
export const AuditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditActionSchema>;

export const ActorTypeSchema = z.enum(['user', 'service', 'cli', 'anonymous']);
export const OutcomeSchema = z.enum(['ok', 'denied', 'failed']);

/** Small, flat, and free of personal data: counts, codes, reasons. */
const DetailSchema = z.record(z.string(), z.union([z.string().max(200), z.number(), z.boolean()]));

export const AuditEntryInputSchema = z.object({
  actorType: ActorTypeSchema,
  actorId: z.string().max(64).nullable(),
  action: AuditActionSchema,
  targetType: z.enum(['alert', 'team', 'report', 'user', 'session', 'home', 'device', 'dead_letter']).optional(),
  targetId: z.string().max(128).nullable().optional(),
  teamId: z.string().max(64).nullable().optional(),
  outcome: OutcomeSchema,
  detail: DetailSchema.optional(),
});
export type AuditEntryInput = z.input<typeof AuditEntryInputSchema>;

export const AuditEntrySchema = z.object({
  id: z.number().int(),
  at: z.iso.datetime(),
  actorType: ActorTypeSchema,
  actorId: z.string().nullable(),
  action: AuditActionSchema,
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  teamId: z.string().nullable(),
  outcome: OutcomeSchema,
  detail: DetailSchema,
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export interface AuditQuery {
  actorId?: string;
  action?: AuditAction;
  targetId?: string;
  limit?: number;
}

interface Row {
  id: number;
  at: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  team_id: string | null;
  outcome: string;
  detail: string;
}

export type AuditLog = ReturnType<typeof createAuditLog>;

export function createAuditLog(deps: { db: Database; now: () => number }) {
  const insert = deps.db.prepare(
    `INSERT INTO audit_log (at, actor_type, actor_id, action, target_type, target_id, team_id, outcome, detail)
     VALUES (@at, @actorType, @actorId, @action, @targetType, @targetId, @teamId, @outcome, @detail)`,
  );
  const select = deps.db.prepare<{ actorId: string | null; action: string | null; targetId: string | null; limit: number }, Row>(
    `SELECT * FROM audit_log
     WHERE (@actorId IS NULL OR actor_id = @actorId) AND (@action IS NULL OR action = @action) AND (@targetId IS NULL OR target_id = @targetId)
     ORDER BY id DESC LIMIT @limit`,
  );
  return {
    record(input: AuditEntryInput): void {
      const e = AuditEntryInputSchema.parse(input);
      insert.run({
        at: new Date(deps.now()).toISOString(),
        actorType: e.actorType,
        actorId: e.actorId,
        action: e.action,
        targetType: e.targetType ?? null,
        targetId: e.targetId ?? null,
        teamId: e.teamId ?? null,
        outcome: e.outcome,
        detail: JSON.stringify(e.detail ?? {}),
      });
    },

    /** Newest first. */
    list(query: AuditQuery = {}): AuditEntry[] {
      const rows = select.all({
        actorId: query.actorId ?? null,
        action: query.action ?? null,
        targetId: query.targetId ?? null,
        limit: query.limit ?? 1000,
      });
      return rows.map((r) =>
        AuditEntrySchema.parse({
          id: r.id,
          at: r.at,
          actorType: r.actor_type,
          actorId: r.actor_id,
          action: r.action,
          targetType: r.target_type,
          targetId: r.target_id,
          teamId: r.team_id,
          outcome: r.outcome,
          detail: JSON.parse(r.detail) as unknown,
        }),
      );
    },
  };
}
