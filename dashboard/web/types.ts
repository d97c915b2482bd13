// The API's shapes, as the browser sees them. Alerts and transitions are the gateway's own types (type-only
// imports: nothing of the gateway, and no zod, reaches the bundle) as the HTTP API answers a session: with the
// actors' names (NamedAlert, NamedTransition); the session shapes are the contract of `/api/v1/session` (issue 6).

import type { NamedAlert as Alert, NamedTransition as AlertTransition, Outcome, TransitionType } from '../../gateway/alerts/model.js';
import type { Evidence, RuleId, Severity } from '../../gateway/alerts/signal.js';

export type { Alert, AlertTransition, Evidence, Outcome, RuleId, Severity, TransitionType };

export const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low'] as const satisfies readonly Severity[];

/** The order the resolve form offers outcomes in; the i18n dictionaries name each (a Record over Outcome). */
export const OUTCOME_ORDER = [
  'visited_ok',
  'visited_action_taken',
  'contacted_by_phone',
  'false_alarm',
  'technical_fixed',
  'other',
] as const satisfies readonly Outcome[];

export type Role = 'nurse' | 'team_lead' | 'technician' | 'admin';

export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly role: Role;
  readonly teams: readonly string[];
}

/** Body of `POST` and `GET /api/v1/session`. */
export interface Session {
  readonly user: User;
  readonly csrfToken: string;
  /** `board`: a wall-board session — it may only show the open alerts (the gateway refuses the rest). */
  readonly sessionKind?: 'user' | 'board';
}

/** One step of an alert's timeline in `GET /api/v1/alerts/:id`. */
export interface TimelineEntry {
  readonly type: TransitionType;
  readonly at: string;
  readonly actor: string;
  /** The actor's display name when a user, else the actor itself (gateway/http/alert-routes.ts). */
  readonly actorName: string;
  readonly detail: AlertTransition['detail'];
}

/** `GET /api/v1/alerts/:id` (gateway/http/alert-routes.ts): the evidence is the alert's own. */
export interface AlertDetail {
  readonly alert: Alert;
  readonly timeline: readonly TimelineEntry[];
}

/** One SSE `alert` event: the transition and the alert right after it (gateway/delivery/sse.ts). */
export interface AlertEvent {
  readonly transition: AlertTransition;
  readonly alert: Alert;
}

// Both lists must name every value, so a new outcome or severity in the gateway fails the typecheck here.
type Missing<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
export const _everyOutcomeListed: Missing<Outcome, (typeof OUTCOME_ORDER)[number]> = true;
export const _everySeverityListed: Missing<Severity, (typeof SEVERITY_ORDER)[number]> = true;
