import type { FastifyRequest } from 'fastify';
import type { AuditAction, AuditEntryInput, AuditLog } from '../auth/audit.js';
import { inScope, type AuthContext } from '../auth/guard.js';
import type { Device, Home } from '../devices/model.js';
import { HttpError } from './errors.js';

// Team scope for the home, device, telemetry, care and dead-letter routes (issue 6 item 1). A home, a device or
// a dead letter of another team is answered exactly like one that does not exist (404, the same body), and the
// attempt is audited as denied; a team filter naming another team is 403 (as for alerts). A device belongs to
// the team of the home it is in now; a device in stock (no home) belongs to no team, so only an admin sees it.

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

/** Logs a probe of another team's data (a 404 to the caller). */
function refused(request: FastifyRequest, auth: AuthContext, what: string, id: string | number): void {
  request.log.info({ event: 'security.scope_refused', actorId: auth.actorId, [what]: id }, `${what} of another team`);
}

/** The home if it exists and is the caller's team's; otherwise 404 (audited as denied). */
export function visibleHome(
  request: FastifyRequest,
  deps: { audit: AuditLog; getHome: (id: string) => Home | undefined },
  id: string,
  action: AuditAction,
): { auth: AuthContext; home: Home } {
  const auth = authOf(request);
  const home = deps.getHome(id);
  if (home === undefined || !inScope(auth, home.teamId)) {
    auditFor(deps.audit, auth, action, 'denied', { targetType: 'home', targetId: id, teamId: home?.teamId ?? null });
    if (home !== undefined) refused(request, auth, 'homeId', id);
    throw new HttpError('TRY_ERR_NOT_FOUND');
  }
  return { auth, home };
}

/** The team a device belongs to now: its home's, or undefined for a device in stock. */
export function deviceTeam(device: Pick<Device, 'homeId'>, getHome: (id: string) => Home | undefined): string | undefined {
  return device.homeId === null ? undefined : getHome(device.homeId)?.teamId;
}

export function deviceInScope(auth: AuthContext, teamId: string | undefined): boolean {
  return teamId === undefined ? auth.scope === '*' : inScope(auth, teamId);
}

/** The device if it exists and the caller may see it (see above); otherwise 404 (audited as denied). */
export function visibleDevice(
  request: FastifyRequest,
  deps: { audit: AuditLog; getDevice: (id: string) => Device | undefined; getHome: (id: string) => Home | undefined },
  id: string,
  action: AuditAction,
): { auth: AuthContext; device: Device; teamId: string | undefined } {
  const auth = authOf(request);
  const device = deps.getDevice(id);
  const teamId = device && deviceTeam(device, deps.getHome);
  if (device === undefined || !deviceInScope(auth, teamId)) {
    auditFor(deps.audit, auth, action, 'denied', { targetType: 'device', targetId: id, teamId: teamId ?? null });
    if (device !== undefined) refused(request, auth, 'deviceId', id);
    throw new HttpError('TRY_ERR_NOT_FOUND');
  }
  return { auth, device, teamId };
}

/** The message a refused team check leaves in the log, for a dead letter. */
export function refusedDeadLetter(request: FastifyRequest, auth: AuthContext, id: number): void {
  refused(request, auth, 'deadLetterId', id);
}
