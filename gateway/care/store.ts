import { z } from 'zod';
import { sqliteErrorCode, type Database } from '../db/sqlite.js';
import { ALL_WEEKDAYS, CARE_DEFAULTS, VISIT_LOOKBACK_DAYS } from './defaults.js';
import {
  CareError,
  DoseInputSchema,
  NightWindowInputSchema,
  OverrideParamsSchema,
  parseInput,
  RuleIdSchema,
  ScheduleInputSchema,
  VisitInputSchema,
  type CareErrorCode,
  type DoseInput,
  type VisitInput,
} from './inputs.js';
import { CarePlanSchema, type CareLookup, type CarePlan, type DoseScheduleEntry, type NightWindow, type PlannedVisit } from './model.js';
import { assertConsistent } from './schedule.js';
import { createSqliteCareStore, type StoredDose } from './sql.js';
import { parseVisits, type VisitsFormat } from './visits-import.js';

/*
 * Style (as gateway/devices/registry.ts): commands throw CareError for expected failures, an unknown home
 * included; planFor (the rules' look-up) returns undefined for an unknown home and never throws for one.
 * Whatever nobody configured is stored as absent and filled in from CARE_DEFAULTS when read, so `show`
 * can say which values are defaults and a changed default reaches every home that relies on it.
 */

export interface CareStoreDeps {
  db: Database;
  now?: () => Date;
}

/** A home's plan as `tryggheim care show` prints it: the plan the rules get, and which parts are defaults. */
export const CareDetailsSchema = CarePlanSchema.extend({
  /** Paths into the plan that were filled in from the defaults (`night`, `doses.0.windowMinutes`, `visits`…). */
  defaulted: z.array(z.string()),
  /** All stored visits, past ones included (plan.visits holds only the recent and coming ones). */
  storedVisits: z.int(),
});
export type CareDetails = z.infer<typeof CareDetailsSchema>;

export interface VisitsImport {
  text: string;
  format: VisitsFormat;
  /** Named in error messages (`visits.csv:4 to: …`); the file name, usually. */
  source: string;
}

export interface VisitsImportResult {
  /** Visits that were new. */
  added: number;
  /** Visits that were already planned (re-importing a plan is harmless). */
  unchanged: number;
  /** Visits removed first, with `replace`. */
  removed: number;
}

export type CareStore = ReturnType<typeof createCareStore>;

export function createCareStore(deps: CareStoreDeps) {
  const store = createSqliteCareStore(deps.db);
  const now = deps.now ?? (() => new Date());

  const requireHome = (homeId: string) => store.home(homeId) ?? fail('TRY_ERR_HOME_NOT_FOUND', `home ${homeId} not found`);

  /** Checks the home and the whole resulting schedule, then writes it, in one transaction. */
  const writeSchedule = (what: string, homeId: string, build: (existing: StoredDose[]) => StoredDose[]): DoseScheduleEntry[] =>
    guard(what, () =>
      store.transaction(() => {
        requireHome(homeId);
        const doses = build(store.doses(homeId));
        const resolved = doses.map(resolveDose);
        assertConsistent(resolved);
        const at = isoTime(now());
        store.deleteDoses(homeId);
        for (const dose of doses) store.insertDose(homeId, dose, at);
        return store.doses(homeId).map(resolveDose);
      }),
    );

  const planOf = (homeId: string, home: { teamId: string; timeZone: string }): CareDetails => {
    const defaulted: string[] = [];
    const stored = store.doses(homeId);
    if (stored.length === 0) defaulted.push('doses');
    stored.forEach((d, i) => {
      if (d.windowMinutes === null) defaulted.push(`doses.${i}.windowMinutes`);
      if (d.graceMinutes === null) defaulted.push(`doses.${i}.graceMinutes`);
    });
    const night = store.night(homeId);
    if (!night) defaulted.push('night');
    const since = isoTime(new Date(now().getTime() - VISIT_LOOKBACK_DAYS * 86_400_000));
    const visits = store.visitsEndingAfter(homeId, since);
    const storedVisits = store.countVisits(homeId);
    if (storedVisits === 0) defaulted.push('visits');
    return {
      homeId,
      teamId: home.teamId,
      timeZone: home.timeZone,
      doses: stored.map(resolveDose),
      night: night ?? { ...CARE_DEFAULTS.night },
      visits,
      overrides: store.overrides(homeId),
      defaulted,
      storedVisits,
    };
  };

  const lookup: CareLookup['planFor'] = (homeId) =>
    guard('reading a care plan', () =>
      store.snapshot(() => {
        const home = store.home(homeId);
        if (!home) return undefined;
        const { defaulted: _d, storedVisits: _s, ...plan } = planOf(homeId, home);
        return plan satisfies CarePlan;
      }),
    );

  return {
    /** The complete plan of a home, defaults filled in; undefined for an unknown home (CareLookup). */
    planFor: lookup,

    /** The plan plus which parts are defaults; throws for an unknown home. */
    details: (homeId: string): CareDetails => guard('reading a care plan', () => store.snapshot(() => planOf(homeId, requireHome(homeId)))),

    /** Replaces the whole schedule (an empty list clears it). Returns the schedule as the rules will see it. */
    setSchedule: (homeId: string, entries: readonly DoseInput[]): DoseScheduleEntry[] => {
      const doses = parseInput(ScheduleInputSchema, entries, 'doses').map(toStored);
      return writeSchedule('setting a schedule', homeId, () => doses);
    },

    /** Adds entries to the schedule (e.g. other times at weekends); the result must still be consistent. */
    addDoses: (homeId: string, entries: readonly DoseInput[]): DoseScheduleEntry[] => {
      const doses = parseInput(ScheduleInputSchema, entries, 'doses').map(toStored);
      return writeSchedule('adding doses', homeId, (existing) => {
        const all = [...existing, ...doses];
        parseInput(ScheduleInputSchema, all.map(toInput), 'doses');
        return all;
      });
    },

    /** Removes every dose: the home gets no missed-dose alerts. Returns how many entries were removed. */
    clearSchedule: (homeId: string): number =>
      guard('clearing a schedule', () =>
        store.transaction(() => {
          requireHome(homeId);
          return store.deleteDoses(homeId);
        }),
      ),

    setNightWindow: (homeId: string, night: NightWindow): NightWindow => {
      const parsed = parseInput(NightWindowInputSchema, night, 'night');
      return guard('setting the night window', () =>
        store.transaction(() => {
          requireHome(homeId);
          store.upsertNight(homeId, parsed, isoTime(now()));
          return { from: parsed.from, to: parsed.to };
        }),
      );
    },

    /** Back to the default night window. Returns false when the home had none of its own. */
    clearNightWindow: (homeId: string): boolean =>
      guard('clearing the night window', () =>
        store.transaction(() => {
          requireHome(homeId);
          return store.deleteNight(homeId);
        }),
      ),

    /** Returns false when exactly this visit was already planned. */
    addVisit: (homeId: string, visit: VisitInput): boolean => {
      const parsed = normalizeVisit(parseInput(VisitInputSchema, visit, 'visit'));
      return guard('adding a visit', () =>
        store.transaction(() => {
          requireHome(homeId);
          return store.insertVisit(homeId, parsed, isoTime(now()));
        }),
      );
    },

    /** All or nothing: a file with a mistake changes nothing. `replace` clears the home's visits first. */
    importVisits: (homeId: string, file: VisitsImport, opts: { replace?: boolean } = {}): VisitsImportResult => {
      // Parsed before the transaction so a big file does not hold the write lock.
      const visits = parseVisits(file.text, file.format, file.source);
      return guard('importing visits', () =>
        store.transaction(() => {
          requireHome(homeId);
          const removed = opts.replace === true ? store.deleteVisits(homeId) : 0;
          const at = isoTime(now());
          let added = 0;
          for (const v of visits) if (store.insertVisit(homeId, v, at)) added++;
          return { added, unchanged: visits.length - added, removed };
        }),
      );
    },

    /** Removes every planned visit: the home has no visit plan. Returns how many were removed. */
    clearVisits: (homeId: string): number =>
      guard('clearing visits', () =>
        store.transaction(() => {
          requireHome(homeId);
          return store.deleteVisits(homeId);
        }),
      ),

    /** Replaces the rule's parameters for this home. The rule validates them against its own schema. */
    setOverride: (homeId: string, ruleId: string, params: unknown): void => {
      const rule = parseInput(RuleIdSchema, ruleId, 'ruleId');
      const parsed = parseInput(OverrideParamsSchema, params, 'params');
      guard('setting an override', () =>
        store.transaction(() => {
          requireHome(homeId);
          store.upsertOverride(homeId, rule, parsed, isoTime(now()));
        }),
      );
    },

    /** Returns false when the home had no override for the rule. */
    clearOverride: (homeId: string, ruleId: string): boolean =>
      guard('clearing an override', () =>
        store.transaction(() => {
          requireHome(homeId);
          return store.deleteOverride(homeId, ruleId);
        }),
      ),
  };
}

function toStored(input: z.infer<typeof DoseInputSchema>): StoredDose {
  return {
    time: input.time,
    windowMinutes: input.windowMinutes ?? null,
    graceMinutes: input.graceMinutes ?? null,
    // Sorted and unique, so equal schedules compare equal and the mask round-trips.
    weekdays: [...new Set(input.weekdays ?? ALL_WEEKDAYS)].sort((a, b) => a - b),
  };
}

function toInput(dose: StoredDose): DoseInput {
  return {
    time: dose.time,
    ...(dose.windowMinutes === null ? {} : { windowMinutes: dose.windowMinutes }),
    ...(dose.graceMinutes === null ? {} : { graceMinutes: dose.graceMinutes }),
    weekdays: dose.weekdays,
  };
}

function resolveDose(dose: StoredDose): DoseScheduleEntry {
  return {
    time: dose.time,
    windowMinutes: dose.windowMinutes ?? CARE_DEFAULTS.doseWindowMinutes,
    graceMinutes: dose.graceMinutes ?? CARE_DEFAULTS.doseGraceMinutes,
    weekdays: dose.weekdays,
  };
}

function normalizeVisit(visit: { from: string; to: string }): PlannedVisit {
  return { from: new Date(visit.from).toISOString(), to: new Date(visit.to).toISOString() };
}

function fail(code: CareErrorCode, message: string): never {
  throw new CareError(code, message);
}

function isoTime(at: Date): string {
  if (Number.isNaN(at.getTime())) fail('TRY_ERR_INVALID_INPUT', 'invalid date');
  return at.toISOString();
}

/** Translates SQLite failures into CareError at this boundary, keeping the original as `cause`. */
function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = sqliteErrorCode(err);
    if (code === undefined) throw err;
    throw new CareError('TRY_ERR_STORAGE', `${what} failed: ${code}`, { cause: err });
  }
}
