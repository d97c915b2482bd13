// The dictionaries and the small pure helpers around them. Components get the current dictionary from
// i18n/context.tsx; the choice is remembered in localStorage there.

import type { HomeEvent } from '../resource-types.js';
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

/** The dictionary's word for `key`, or the key itself when the gateway sent one it does not know (a newer version). */
function word(words: Readonly<Record<string, string>>, key: string): string {
  return Object.prototype.hasOwnProperty.call(words, key) ? (words[key] ?? key) : key;
}

/** A recorded event in words: "Dose: Ikke tatt", "Dør: Låst opp (app)", "Alarm: Røyk – over". */
export function eventText(e: Pick<HomeEvent, 'type' | 'kind' | 'method' | 'active'>, t: Messages): string {
  const ev = t.events;
  let text = `${ev.types[e.type]}: ${word(ev[e.type], e.kind)}`;
  if (e.method !== null) text += ` (${word(ev.lockMethod, e.method)})`;
  if (e.active === false) text += ` – ${ev.alarmCleared}`;
  return text;
}

/** A kind of device in words ("Medisindispenser"). */
export function deviceKindText(kind: string, t: Messages): string {
  return word(t.home.deviceKind, kind);
}
