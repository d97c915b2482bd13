import type { Database } from '../db/sqlite.js';
import type { AnyRule } from './contract.js';

// The rule engine's SQLite side (gateway/rules/engine.ts): each (rule, home, subject)'s state, the pending
// timers and how far each home's schedule is armed (tables in gateway/rules/migration.ts), with the states
// cached. The engine decides when to read and write, and wraps the writes in its transactions.

export interface TimerRow {
  rule: string;
  home_id: string;
  subject: string;
  key: string;
  at: string;
}

interface Cached {
  version: number;
  json: string;
  state: unknown;
}

/** Bounds the state cache (a state is a few hundred bytes; a district has a few thousand). */
const MAX_CACHED = 200_000;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function createRuleStore(db: Database) {
  const q = {
    state: db.prepare<[string, string, string], { rule_version: number; state: string }>(
      'SELECT rule_version, state FROM rule_state WHERE rule = ? AND home_id = ? AND subject = ?',
    ),
    saveState: db.prepare(
      `INSERT INTO rule_state (rule, home_id, subject, rule_version, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (rule, home_id, subject) DO UPDATE SET rule_version = excluded.rule_version, state = excluded.state,
         updated_at = excluded.updated_at`,
    ),
    setTimer: db.prepare(
      `INSERT INTO rule_timers (rule, home_id, subject, key, at, scheduled) VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT (rule, home_id, subject, key) DO UPDATE SET at = excluded.at`,
    ),
    addScheduled: db.prepare(
      `INSERT INTO rule_timers (rule, home_id, subject, key, at, scheduled) VALUES (?, ?, ?, ?, ?, 1)
       ON CONFLICT (rule, home_id, subject, key) DO NOTHING`,
    ),
    fire: db.prepare('DELETE FROM rule_timers WHERE rule = ? AND home_id = ? AND subject = ? AND key = ? AND at = ?'),
    cancel: db.prepare('DELETE FROM rule_timers WHERE rule = ? AND home_id = ? AND subject = ? AND key = ?'),
    allTimers: db.prepare<[], TimerRow>('SELECT rule, home_id, subject, key, at FROM rule_timers'),
    futureScheduled: db.prepare<[string, string], TimerRow>(
      'SELECT rule, home_id, subject, key, at FROM rule_timers WHERE home_id = ? AND scheduled = 1 AND at > ?',
    ),
    armedUntil: db.prepare<[string, string], { armed_until: string }>(
      'SELECT armed_until FROM rule_schedules WHERE rule = ? AND home_id = ?',
    ),
    setArmedUntil: db.prepare(
      `INSERT INTO rule_schedules (rule, home_id, armed_until) VALUES (?, ?, ?)
       ON CONFLICT (rule, home_id) DO UPDATE SET armed_until = excluded.armed_until`,
    ),
  };

  /**
   * The stored states, cached write-through (the engine is their only writer), with their JSON and the parsed
   * state deep-frozen: a step is handed the cached object itself — no JSON.parse per step — and a rule that
   * tried to mutate it would throw (strict mode) and be isolated like any failing rule, never corrupt the
   * cache. The engine drops it whole (`forget`) when a transaction rolls back.
   */
  const cache = new Map<string, Cached | null>();
  const keyOf = (rule: string, homeId: string, subject: string): string => `${rule}\u0000${homeId}\u0000${subject}`;

  // States go through the cache only (loadState/storeState), never the raw statements.
  const { state: _state, saveState: _saveState, ...timers } = q;
  return {
    ...timers,
    /** The state and its stored JSON (undefined when none is stored for this rule version). */
    loadState(rule: AnyRule, homeId: string, subject: string): { state: unknown; json: string | undefined } {
      const key = keyOf(rule.id, homeId, subject);
      let hit = cache.get(key);
      if (hit === undefined) {
        const row = q.state.get(rule.id, homeId, subject);
        hit = row === undefined ? null : { version: row.rule_version, json: row.state, state: deepFreeze(JSON.parse(row.state)) };
        if (cache.size > MAX_CACHED) cache.clear();
        cache.set(key, hit);
      }
      if (hit === null || hit.version !== rule.version) return { state: rule.initial(), json: undefined };
      return { state: hit.state, json: hit.json };
    },
    /** Writes a state (call inside the engine's transaction) and caches it as loading it back would give it. */
    storeState(rule: AnyRule, homeId: string, subject: string, json: string, at: string): void {
      q.saveState.run(rule.id, homeId, subject, rule.version, json, at);
      cache.set(keyOf(rule.id, homeId, subject), { version: rule.version, json, state: deepFreeze(JSON.parse(json)) });
    },
    /** After a rollback: the cache may hold states that were never committed. */
    forget(): void {
      cache.clear();
    },
  };
}
