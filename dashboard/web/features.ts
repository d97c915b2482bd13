// The dashboard's pages in the main menu, and who sees which. Pure data (no DOM), checked by the unit tests.
// The menu only hides: the API checks the role and the team scope again on every request.

import type { Messages } from './i18n/index.js';
import type { Role } from './types.js';

export interface NavItem {
  readonly key: keyof Messages['nav'];
  readonly path: string;
  readonly roles: readonly Role[];
}

// Care pages (alerts, homes, the wall board) are for nurses, team leads and admins; technicians have no care
// data (gateway/auth/roles.ts), so their menu is devices and dead letters.
const CARE: readonly Role[] = ['nurse', 'team_lead', 'admin'];

export const NAV_ITEMS = [
  { key: 'alerts', path: '/', roles: CARE },
  { key: 'homes', path: '/homes', roles: CARE },
  { key: 'tavle', path: '/tavle', roles: CARE },
  { key: 'report', path: '/report', roles: ['team_lead', 'admin'] },
  { key: 'devices', path: '/devices', roles: ['technician', 'admin'] },
  { key: 'deadLetters', path: '/deadletters', roles: ['technician', 'admin'] },
] as const satisfies readonly NavItem[];

export function navFor(role: Role): NavItem[] {
  return NAV_ITEMS.filter((item: NavItem) => item.roles.includes(role));
}

/** Where `/` leads: the alert list, or the device list for a technician (who has no alerts). */
export function homePathFor(role: Role): string {
  return role === 'technician' ? '/devices' : '/';
}
