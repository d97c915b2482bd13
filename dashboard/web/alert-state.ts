// The open-alert list as pure functions over an immutable state: the feed (feed.ts) feeds it the initial
// GET, the SSE events and the nurse's own optimistic acknowledgements; the views read `visibleAlerts`.
// Pure so the ordering and the optimistic overlay are unit-tested without a browser.

import { SEVERITY_ORDER, type Alert, type AlertEvent, type Severity } from './types.js';

const RANK: Readonly<Record<Severity, number>> = { critical: 0, high: 1, medium: 2, low: 3 };

/** Most urgent first: severity, then the longest waiting, then id (stable) — as the gateway orders its lists. */
export function compareAlerts(a: Alert, b: Alert): number {
  return RANK[a.severity] - RANK[b.severity] || a.raisedAt.localeCompare(b.raisedAt) || a.id.localeCompare(b.id);
}

/** An acknowledgement the nurse made that the server has not confirmed yet. */
export interface PendingAck {
  readonly by: string;
  readonly at: string;
}

export interface AlertListState {
  /** What the server last said, open alerts only. */
  readonly byId: ReadonlyMap<string, Alert>;
  /** The newest transition id seen per alert (kept after it closes, so a detail view can refresh). */
  readonly revision: ReadonlyMap<string, number>;
  /** Optimistic acknowledgements: shown over the server state until confirmed or refused (then dropped). */
  readonly pendingAck: ReadonlyMap<string, PendingAck>;
}

/** An alert as shown: the server's state with the nurse's pending acknowledgement over it. */
export type AlertView = Alert & { readonly pending: boolean };

export const emptyState: AlertListState = { byId: new Map(), revision: new Map(), pendingAck: new Map() };

/** The list from `GET /api/v1/alerts` replaces what we had (after a reconnect, events may have been missed). */
export function replaceAll(state: AlertListState, alerts: readonly Alert[]): AlertListState {
  return { ...state, byId: new Map(alerts.filter((a) => a.open).map((a) => [a.id, a])) };
}

/**
 * One SSE event. Events arrive in outbox order and carry the whole alert after the transition, so the last one
 * applied is the truth; a resolved alert (open: false) leaves the list.
 */
export function applyEvent(state: AlertListState, event: AlertEvent): AlertListState {
  const { alert, transition } = event;
  const byId = new Map(state.byId);
  if (alert.open) byId.set(alert.id, alert);
  else byId.delete(alert.id);
  const revision = new Map(state.revision);
  revision.set(alert.id, Math.max(revision.get(alert.id) ?? 0, transition.id));
  return { ...state, byId, revision };
}

/** The server's answer to our own acknowledge or resolve. */
export function applyAlert(state: AlertListState, alert: Alert): AlertListState {
  const byId = new Map(state.byId);
  if (alert.open) byId.set(alert.id, alert);
  else byId.delete(alert.id);
  return { ...state, byId };
}

export function withPendingAck(state: AlertListState, id: string, ack: PendingAck): AlertListState {
  const pendingAck = new Map(state.pendingAck);
  pendingAck.set(id, ack);
  return { ...state, pendingAck };
}

/** Confirmed (the server's alert was applied) or refused (rolled back to the server's state): drop the overlay. */
export function withoutPendingAck(state: AlertListState, id: string): AlertListState {
  if (!state.pendingAck.has(id)) return state;
  const pendingAck = new Map(state.pendingAck);
  pendingAck.delete(id);
  return { ...state, pendingAck };
}

export function viewOf(state: AlertListState, alert: Alert): AlertView {
  const pending = state.pendingAck.get(alert.id);
  if (pending === undefined || alert.ack === 'acknowledged') return { ...alert, pending: false };
  // Our own acknowledgement: the views say "you" for it, so the id stands in for the name until the server's answer.
  return {
    ...alert,
    ack: 'acknowledged',
    acknowledgedBy: pending.by,
    acknowledgedByName: pending.by,
    acknowledgedAt: pending.at,
    pending: true,
  };
}

export interface ListFilter {
  /** Only this team's alerts; undefined = every team the user may see. */
  readonly team?: string | undefined;
  /** The least severe alert shown. */
  readonly minSeverity?: Severity | undefined;
}

export function visibleAlerts(state: AlertListState, filter: ListFilter = {}): AlertView[] {
  const maxRank = RANK[filter.minSeverity ?? 'low'];
  return [...state.byId.values()]
    .filter((a) => (filter.team === undefined || a.teamId === filter.team) && RANK[a.severity] <= maxRank)
    .sort(compareAlerts)
    .map((a) => viewOf(state, a));
}

/** The wall board's grouping: every severity, most urgent first, each with its alerts in list order. */
export function groupBySeverity<T extends Pick<Alert, 'severity'>>(alerts: readonly T[]): { severity: Severity; alerts: T[] }[] {
  return SEVERITY_ORDER.map((severity) => ({ severity, alerts: alerts.filter((a) => a.severity === severity) }));
}
