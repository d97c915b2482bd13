import type { Database } from '../db/sqlite.js';
import type { NightWindow, PlannedVisit } from './model.js';
import { maskToWeekdays, weekdaysToMask } from './schedule.js';

/*
 * The care store's SQL, and nothing else: no validation, no defaults. This is the seam a PostgreSQL backend
 * replaces. Statements are prepared once, because planFor runs whenever a rule needs a home's plan.
 */

/** A dose as stored: null window or grace means "the default", resolved by the store when it is read. */
export interface StoredDose {
  time: string;
  windowMinutes: number | null;
  graceMinutes: number | null;
  weekdays: number[];
}

interface DoseRow {
  local_time: string;
  window_minutes: number | null;
  grace_minutes: number | null;
  weekday_mask: number;
}

export function createSqliteCareStore(db: Database) {
  const s = {
    home: db.prepare<[string], { team_id: string; time_zone: string }>('SELECT team_id, time_zone FROM homes WHERE id = ?'),

    doses: db.prepare<[string], DoseRow>(
      `SELECT local_time, window_minutes, grace_minutes, weekday_mask FROM care_doses
       WHERE home_id = ? ORDER BY local_time, weekday_mask, id`,
    ),
    insertDose: db.prepare(
      `INSERT INTO care_doses (home_id, local_time, window_minutes, grace_minutes, weekday_mask, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    deleteDoses: db.prepare('DELETE FROM care_doses WHERE home_id = ?'),

    night: db.prepare<[string], { from_time: string; to_time: string }>(
      'SELECT from_time, to_time FROM care_night_windows WHERE home_id = ?',
    ),
    upsertNight: db.prepare(
      `INSERT INTO care_night_windows (home_id, from_time, to_time, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (home_id) DO UPDATE SET from_time = excluded.from_time, to_time = excluded.to_time, updated_at = excluded.updated_at`,
    ),
    deleteNight: db.prepare('DELETE FROM care_night_windows WHERE home_id = ?'),

    // Text comparison is time comparison: the times are fixed-width ISO UTC (gateway/db/migrations.ts).
    visitsEndingAfter: db.prepare<[string, string], { from_at: string; to_at: string }>(
      'SELECT from_at, to_at FROM care_visits WHERE home_id = ? AND to_at > ? ORDER BY from_at, to_at',
    ),
    countVisits: db.prepare<[string], number>('SELECT count(*) FROM care_visits WHERE home_id = ?').pluck(),
    insertVisit: db.prepare('INSERT OR IGNORE INTO care_visits (home_id, from_at, to_at, created_at) VALUES (?, ?, ?, ?)'),
    deleteVisits: db.prepare('DELETE FROM care_visits WHERE home_id = ?'),

    overrides: db.prepare<[string], { rule_id: string; params: string }>(
      'SELECT rule_id, params FROM care_rule_overrides WHERE home_id = ? ORDER BY rule_id',
    ),
    upsertOverride: db.prepare(
      `INSERT INTO care_rule_overrides (home_id, rule_id, params, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (home_id, rule_id) DO UPDATE SET params = excluded.params, updated_at = excluded.updated_at`,
    ),
    deleteOverride: db.prepare('DELETE FROM care_rule_overrides WHERE home_id = ? AND rule_id = ?'),
  };

  return {
    /** IMMEDIATE: the write lock is taken up front, so check-then-write is safe against the other process. */
    transaction<T>(fn: () => T): T {
      return db.transaction(fn).immediate();
    },
    /** DEFERRED: one snapshot for a read that spans several tables. */
    snapshot<T>(fn: () => T): T {
      return db.transaction(fn).deferred();
    },

    home(homeId: string): { teamId: string; timeZone: string } | undefined {
      const row = s.home.get(homeId);
      return row && { teamId: row.team_id, timeZone: row.time_zone };
    },

    doses(homeId: string): StoredDose[] {
      return s.doses.all(homeId).map((r) => ({
        time: r.local_time,
        windowMinutes: r.window_minutes,
        graceMinutes: r.grace_minutes,
        weekdays: maskToWeekdays(r.weekday_mask),
      }));
    },
    insertDose(homeId: string, dose: StoredDose, at: string): void {
      s.insertDose.run(homeId, dose.time, dose.windowMinutes, dose.graceMinutes, weekdaysToMask(dose.weekdays), at);
    },
    deleteDoses(homeId: string): number {
      return s.deleteDoses.run(homeId).changes;
    },

    night(homeId: string): NightWindow | undefined {
      const row = s.night.get(homeId);
      return row && { from: row.from_time, to: row.to_time };
    },
    upsertNight(homeId: string, night: NightWindow, at: string): void {
      s.upsertNight.run(homeId, night.from, night.to, at);
    },
    deleteNight(homeId: string): boolean {
      return s.deleteNight.run(homeId).changes > 0;
    },

    visitsEndingAfter(homeId: string, since: string): PlannedVisit[] {
      return s.visitsEndingAfter.all(homeId, since).map((r) => ({ from: r.from_at, to: r.to_at }));
    },
    countVisits(homeId: string): number {
      return s.countVisits.get(homeId) ?? 0;
    },
    /** Returns false when exactly this visit was already planned. */
    insertVisit(homeId: string, visit: PlannedVisit, at: string): boolean {
      return s.insertVisit.run(homeId, visit.from, visit.to, at).changes > 0;
    },
    deleteVisits(homeId: string): number {
      return s.deleteVisits.run(homeId).changes;
    },

    overrides(homeId: string): Record<string, Record<string, unknown>> {
      const result: Record<string, Record<string, unknown>> = {};
      // The column's CHECK admits only JSON objects.
      for (const r of s.overrides.all(homeId)) result[r.rule_id] = JSON.parse(r.params) as Record<string, unknown>;
      return result;
    },
    upsertOverride(homeId: string, ruleId: string, params: Record<string, unknown>, at: string): void {
      s.upsertOverride.run(homeId, ruleId, JSON.stringify(params), at);
    },
    deleteOverride(homeId: string, ruleId: string): boolean {
      return s.deleteOverride.run(homeId, ruleId).changes > 0;
    },
  };
}

export type SqliteCareStore = ReturnType<typeof createSqliteCareStore>;
