import type { Role } from './model.js';

/*
 * The role matrix in one table (issue 6 item 2). A route names one permission (gateway/auth/guard.ts); which
 * roles hold it is decided here and nowhere else. Team scope is a second, separate check: a permission says
 * what kind of data a role may touch, the user's teams say whose.
 *
 * - nurse: the alerts of her teams — read, acknowledge, resolve — and the homes' pages (devices' health, recent
 *   events, dose log, charts, care plan), read-only.
 * - team_lead: what a nurse may, plus the follow-up report and changing the care plans of the teams.
 * - technician: devices (health, assign, disable, rotate secret), dead letters and adapters of the teams.
 *   Technicians are municipal or vendor staff who need to know which device is where, not how the patient is:
 *   no care alerts, no home pages, no care plans. They are team-scoped like everyone else, so a vendor's
 *   technician only sees the districts the vendor serves.
 * - admin: everything, every team, and user management.
 */
export const PERMISSIONS = {
  /** Read and end one's own session. */
  session: ['nurse', 'team_lead', 'technician', 'admin'],
  'alerts.read': ['nurse', 'team_lead', 'admin'],
  'alerts.follow_up': ['nurse', 'team_lead', 'admin'],
  'reports.read': ['team_lead', 'admin'],
  'care.read': ['nurse', 'team_lead', 'admin'],
  'care.write': ['team_lead', 'admin'],
  'devices.read': ['technician', 'admin'],
  'devices.write': ['technician', 'admin'],
  'deadletters.read': ['technician', 'admin'],
  'deadletters.replay': ['technician', 'admin'],
  /** The teams one belongs to (every team for an admin), with their home ids: no health data. */
  'teams.read': ['nurse', 'team_lead', 'technician', 'admin'],
  'users.manage': ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

/** The teams a role's scope covers: every team for an admin, else the user's own. */
export function scopeOf(role: Role, teams: readonly string[]): '*' | readonly string[] {
  return role === 'admin' ? '*' : teams;
}
