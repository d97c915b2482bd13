// The dictionaries and the small pure helpers around them. Components get the current dictionary from
// i18n/context.tsx; the choice is remembered in localStorage there.

import type { Alert } from '../types.js';
import { en } from './en.js';
import { nb, type KnownErrorCode, type Messages } from './nb.js';

export type { KnownErrorCode, Messages };

export const DICTIONARIES = { nb, en } as const satisfies Record<string, Messages>;
export type Lang = keyof typeof DICTIONARIES;
export const DEFAULT_LANG: Lang = 'nb';

export function parseLang(value: string | null | undefined): Lang {
  return value === 'en' || value === 'nb' ? value : DEFAULT_LANG;
}

/** The alert's title in the reader's language (the gateway's titles are generic English). */
export function alertTitle(alert: Pick<Alert, 'title' | 'rule'>, t: Messages): string {
  return t.titles[alert.title] ?? (t.untranslatedTitle === 'server' ? alert.title : t.rule[alert.rule]);
}

function isKnown(code: string, t: Messages): code is KnownErrorCode {
  return Object.prototype.hasOwnProperty.call(t.errors.byCode, code);
}

/** A refusal or failure in words; the code itself is never shown to a nurse. */
export function errorText(code: string, t: Messages): string {
  return isKnown(code, t) ? t.errors.byCode[code] : t.errors.generic;
}

/** The home an alert is about, as a label ("Hjem h144"), or the gateway for gateway-wide alerts. */
export function homeLabel(homeId: string | null, t: Messages): string {
  return homeId === null ? t.alerts.noHome : t.alerts.home(homeId);
}
