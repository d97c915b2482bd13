import type { NightWindow } from './model.js';

/*
 * The defaults a home's plan gets for whatever nobody configured. The reasons are in gateway/care/README.md;
 * in short:
 * - no doses: a missed-dose alert for a dose nobody prescribed is a false alarm, and false alarms teach nurses
 *   to ignore the real ones. A home gets doses only from its own schedule (the dispenser's, in the patient's
 *   medication list).
 * - window 60 min: dispensers commonly alarm the patient for up to an hour before reporting "missed".
 * - grace 30 min: time for the dispenser's own reminder and a late "taken" report before a nurse is called.
 * - night 22:00–07:00: the hours the night shift covers in most Norwegian municipalities' home care.
 * - no visit plan: without one the "unlocked with no planned visit" rule stays silent rather than guess.
 */
export const CARE_DEFAULTS = {
  doseWindowMinutes: 60,
  doseGraceMinutes: 30,
  night: { from: '22:00', to: '07:00' },
} as const satisfies { doseWindowMinutes: number; doseGraceMinutes: number; night: NightWindow };

/**
 * planFor returns visits that ended at most this long ago (and all later ones): the rules need the current
 * and coming plan plus some look-back for late-arriving events, not years of history.
 */
export const VISIT_LOOKBACK_DAYS = 7;

export const ALL_WEEKDAYS: readonly number[] = [1, 2, 3, 4, 5, 6, 7];
