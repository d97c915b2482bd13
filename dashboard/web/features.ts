// The dashboard's pages in the main menu. Pages whose API is not there yet keep their route and their place
// here with `available: false`: hidden from the menu, a "coming soon" page if opened by address. Turning one
// on is one flag plus its view. Pure data (no DOM), checked by the unit tests.

import type { Messages } from './i18n/index.js';
import type { Role } from './types.js';

export interface NavItem {
  readonly key: keyof Messages['nav'];
  readonly path: string;
  /** Who sees it in the menu (the API checks roles and team scope again on every request). */
  readonly roles: readonly Role[];
  readonly available: boolean;
}

const EVERYONE: readonly Role[] = ['nurse', 'team_lead', 'technician', 'admin'];

export const NAV_ITEMS = [
  { key: 'alerts', path: '/', roles: EVERYONE, available: true },
  { key: 'tavle', path: '/tavle', roles: EVERYONE, available: true },
  // Issue 6 item 3, next parts: each waits for its API (homes, devices, dead letters, the follow-up report).
  { key: 'homes', path: '/homes', roles: EVERYONE, available: false },
  { key: 'devices', path: '/devices', roles: ['technician', 'admin'], available: false },
  { key: 'deadLetters', path: '/deadletters', roles: ['technician', 'admin'], available: false },
  { key: 'report', path: '/report', roles: ['team_lead', 'admin'], available: false },
] as const satisfies readonly NavItem[];

export function navFor(role: Role): NavItem[] {
  return NAV_ITEMS.filter((item) => item.available && item.roles.includes(role));
}
