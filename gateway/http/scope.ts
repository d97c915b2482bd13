import type { FastifyRequest } from 'fastify';
import type { AuditAction, AuditEntryInput, AuditLog } from '../auth/audit.js';
import { inScope, type AuthContext } from '../auth/guard.js';
import type { Device, Home } from '../devices/model.js';
import { HttpError } from './errors.js';

// Team scope and audit for every route that shows a team's data (issue 6 item 1): alerts, reports, homes,
// devices, telemetry, care and dead letters. An alert, a home, a device or a dead letter of another team is
// answered exactly like one that does not exist (404, the same body), and the attempt is audited as denied; a
// team filter naming another team is 403. A device belongs to the team of the home it is in now; a device in
// stock (no home) belongs to no team, so only an admin sees it. One helper for each rule, so that the routes
// cannot drift apart in what they answer or audit.

type AuditTarget = Pick<AuditEntryInput, 'targetType' | 'targetId' | 'teamId' | 'detail'>;

export function authOf(request: FastifyRequest): AuthContext {
  // The guard sets it on every non-public route; its absence here is a wiring bug.
  if (request.auth === null) throw new Error(`route ${request.routeOptions.url ?? '?'} reached without an authenticated caller`);
  return request.auth;
}

/** Writes one audit row for the caller. */
export function auditFor(
  audit: AuditLog,
  auth: AuthContext,
  action: AuditAction,
  outcome: 'ok' | 'denied' | 'failed',
  target: AuditTarget,
) {
  audit.record({ actorType: auth.kind, actorId: auth.actorId, action, outcome, ...target });
}

/** The teams a request covers: its `team` filter if the caller may see it, else all of the caller's; undefined = refused. */
export function teamsFor(auth: AuthContext, team: string | undefined): '*' | readonly string[] | undefined {
  if (team !== undefined) return inScope(auth, team) ? [team] : undefined;
  return auth.scope;
}

/** Refuses (403, audited) a team filter outside the caller's teams; otherwise the teams to show. */
export function requireTeams(
  request: FastifyRequest,
  audit: AuditLog,
  action: AuditAction,
  team: string | undefined,
): { auth: AuthContext; teams: '*' | readonly string[] } {
  const auth = authOf(request);
  const teams = teamsFor(auth, team);
  if (teams === undefined) {
    auditFor(audit, auth, action, 'denied', { targetType: 'team', targetId: team ?? null, teamId: team ?? null });
    throw new HttpError('TRY_ERR_FORBIDDEN');
  }
  return { auth, teams };
}

export const teamMatches = (teams: '*' | readonly string[], teamId: string | null | undefined): boolean =>
  teamId !== null && teamId !== undefined && (teams === '*' || teams.includes(teamId));

/** What `visibleOr404` guards: the audit row's target type, and the log field and words naming the id. */
const TARGETS = {
  home: { logKey: 'homeId', noun: 'home' },
  device: { logKey: 'deviceId', noun: 'device' },
  dead_letter: { logKey: 'deadLetterId', noun: 'dead letter' },
  alert: { logKey: 'alertId', noun: 'alert' },
} as const;

export interface ScopedLookup<T> {
  type: keyof typeof TARGETS;
  id: string | number;
  /** The item, or undefined when no such id exists. */
  found: T | undefined;
  /** The team the item belongs to; null or undefined = nobody's (an admin's only, like a device in stock). */
  teamOf: (item: T) => string | null | undefined;
}

/** May the caller see an item of this team? An item of no team is an admin's only. */
export function teamVisible(auth: AuthContext, teamId: string | null | undefined): boolean {
  return teamId === null || teamId === undefined ? auth.scope === '*' : inScope(auth, teamId);
}

/**
 * The item if it exists and is the caller's teams'. Otherwise 404, exactly the answer for an id that does not
 * exist (so ids of other teams cannot be probed), audited as denied; an existing item is also logged as
 * `security.scope_refused`, so that probing shows up in the log as well as in the audit.
 */
export function visibleOr404<T>(
  request: FastifyRequest,
  audit: AuditLog,
  action: AuditAction,
  lookup: ScopedLookup<T>,
): { auth: AuthContext; item: T; teamId: string | null } {
  const auth = authOf(request);
  const { found, type, id } = lookup;
  const teamId = found === undefined ? null : (lookup.teamOf(found) ?? null);
  if (found === undefined || !teamVisible(auth, teamId)) {
    auditFor(audit, auth, action, 'denied', { targetType: type, targetId: String(id), teamId });
    if (found !== undefined) {
      const { logKey, noun } = TARGETS[type];
      request.log.info({ event: 'security.scope_refused', actorId: auth.actorId, [logKey]: id }, `${noun} of another team`);
    }
    throw new HttpError('TRY_ERR_NOT_FOUND');
  }
  return { auth, item: found, teamId };
}

/** The home if it exists and is the caller's team's; otherwise 404 (audited as denied). */
export function visibleHome(
  request: FastifyRequest,
  deps: { audit: AuditLog; getHome: (id: string) => Home | undefined },
  id: string,
  action: AuditAction,
): { auth: AuthContext; home: Home } {
  const { auth, item } = visibleOr404(request, deps.audit, action, { type: 'home', id, found: deps.getHome(id), teamOf: (h) => h.teamId });
  return { auth, home: item };
}

/** The team a device belongs to now: its home's, or undefined for a device in stock. */
export function deviceTeam(device: Pick<Device, 'homeId'>, getHome: (id: string) => Home | undefined): string | undefined {
  return device.homeId === null ? undefined : getHome(device.homeId)?.teamId;
}

/** The device if it exists and the caller may see it (see above); otherwise 404 (audited as denied). */
export function visibleDevice(
  request: FastifyRequest,
  deps: { audit: AuditLog; getDevice: (id: string) => Device | undefined; getHome: (id: string) => Home | undefined },
  id: string,
  action: AuditAction,
): { auth: AuthContext; device: Device; teamId: string | undefined } {
  const teamOf = (d: Device) => deviceTeam(d, deps.getHome);
  const { auth, item, teamId } = visibleOr404(request, deps.audit, action, { type: 'device', id, found: deps.getDevice(id), teamOf });
  return { auth, device: item, teamId: teamId ?? undefined };
}
