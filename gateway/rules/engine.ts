import type { CanonicalEvent } from '../../adapters/canonical.js';
import { AlertSignalSchema, type AlertSignal } from '../alerts/signal.js';
import type { CareLookup, CarePlan } from '../care/model.js';
import type { Database } from '../db/sqlite.js';
import type { AnyRule, DeviceKind, DeviceStatusChange, RuleContext, RuleInput, StepResult } from './contract.js';
import { HOUR } from './local-time.js';
import { createRuleStore, type TimerRow } from './store.js';

// The rule engine (issue 5 item 2): routes inputs to the pure rules, keeps each (rule, home, subject)'s state
// and timers in SQLite, and turns a throwing rule into a technical alert. How timers survive restarts and how
// daily schedules are armed: gateway/rules/README.md.

export interface RuleClock {
  now(): number;
  setTimer(at: number, fn: () => void): { cancel(): void };
}

/** The subset of pino the engine uses (pino's Logger satisfies it). */
export interface RuleLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RuleEngineDeps {
  readonly db: Database;
  readonly clock: RuleClock;
  readonly care: CareLookup;
  readonly rules: readonly AnyRule[];
  /**
   * Called inside the engine's SQLite transaction: an alert store writing to the same database commits its
   * alert together with the rule's state and the fired timer's deletion, so a crash loses both or neither.
   * Must not throw (a throw is logged and the signal counted as delivered).
   */
  onSignal(signal: AlertSignal): void;
  readonly logger: RuleLogger;
  /** The device's class (registry), handed to rules with each event; undefined when unknown. */
  readonly deviceKind?: (deviceId: string) => DeviceKind | undefined;
  /** The homes whose schedules to arm at start and on every re-arm (homes seen in events are added). */
  readonly homes?: () => readonly string[];
  /** How far ahead schedule-based timers are armed. Default 48 h: today and tomorrow. */
  readonly scheduleHorizonMs?: number;
  /** How often the schedules are extended. Default 6 h, well inside the horizon. */
  readonly rearmEveryMs?: number;
  /**
   * The rule-failure alerts still active from before a restart (`subject` = the rule's id): the rule's next
   * good step clears them, as it would have before the restart.
   */
  readonly openFailures?: () => Iterable<{ homeId: string; subject: string }>;
}

export interface RuleEngine {
  /** Arms every persisted timer (overdue ones fire at once, once) and the homes' schedules. */
  start(): void;
  handleEvents(events: readonly CanonicalEvent[]): void;
  handleDeviceStatus(change: DeviceStatusChange): void;
  /** A home's care plan changed: its future schedule timers are dropped and armed again from the new plan. */
  replan(homeId: string): void;
  /** Timers armed in memory (tests). */
  armedTimers(): number;
  /** Cancels in-memory timers; persisted ones stay for the next start. */
  close(): void;
}

const iso = (ms: number): string => new Date(ms).toISOString();

const errName = (err: unknown): string => (err instanceof Error ? err.name : typeof err);

export function createRuleEngine(deps: RuleEngineDeps): RuleEngine {
  const { db, clock, care, rules, logger } = deps;
  const horizon = deps.scheduleHorizonMs ?? 48 * HOUR;
  const rearmEvery = deps.rearmEveryMs ?? 6 * HOUR;
  const byId = new Map<string, AnyRule>(rules.map((r) => [r.id, r]));

  const q = createRuleStore(db);

  const armed = new Map<string, { at: string; handle: { cancel(): void } }>();
  const scheduledHomes = new Set<string>();
  /** `rule|home` pairs with an open rule-failure alert (cleared by the rule's next successful step). */
  const failing = new Set<string>();
  let rearmHandle: { cancel(): void } | undefined;
  let closed = false;

  const timerId = (r: { rule: string; home_id: string; subject: string; key: string }): string =>
    JSON.stringify([r.rule, r.home_id, r.subject, r.key]);

  function arm(row: TimerRow): void {
    if (closed) return;
    const id = timerId(row);
    const old = armed.get(id);
    if (old?.at === row.at) return;
    old?.handle.cancel();
    const entry = { at: row.at, handle: clock.setTimer(Date.parse(row.at), () => fire(row, entry)) };
    armed.set(id, entry);
  }

  function disarm(row: Omit<TimerRow, 'at'>): void {
    const id = timerId(row);
    armed.get(id)?.handle.cancel();
    armed.delete(id);
  }

  /** Parsed parameters per plan object: a cached plan (the gateway's care cache) parses each rule's once. */
  const paramsCache = new WeakMap<CarePlan, Map<string, unknown>>();

  function paramsFor(rule: AnyRule, plan: CarePlan): unknown {
    let perRule = paramsCache.get(plan);
    if (perRule === undefined) {
      perRule = new Map();
      paramsCache.set(plan, perRule);
    }
    if (perRule.has(rule.id)) return perRule.get(rule.id);
    const override = plan.overrides[rule.id];
    const parsed = rule.defaults.safeParse(override ?? {});
    let params: unknown;
    if (parsed.success) params = parsed.data;
    else {
      // A bad override must not silence the rule: run it with its defaults and say so.
      logger.warn({ event: 'rules.bad_override', rule: rule.id, homeId: plan.homeId }, 'rule override invalid; using defaults');
      params = rule.defaults.parse({});
    }
    perRule.set(rule.id, params);
    return params;
  }

  /** Set while handleEvents runs a whole chunk of events in one transaction: steps queue their timer changes here. */
  let batch: { toArm: TimerRow[]; toDisarm: Omit<TimerRow, 'at'>[] } | undefined;

  function emit(signal: AlertSignal): void {
    try {
      deps.onSignal(signal);
    } catch (err) {
      logger.error({ event: 'rules.on_signal_failed', rule: signal.rule, homeId: signal.homeId, err }, 'alert signal listener threw');
    }
  }

  function failureSignal(action: 'raise' | 'clear', rule: AnyRule, homeId: string, now: number, err?: unknown): AlertSignal {
    return {
      action,
      rule: 'rule-failure',
      homeId,
      subject: rule.id,
      severity: 'high',
      kind: 'technical',
      title: action === 'raise' ? 'Alert rule failed' : 'Alert rule working again',
      at: now,
      evidence: err === undefined ? [] : [{ note: `${rule.id} v${rule.version}: ${errName(err)}` }],
    };
  }

  /** Checks a step's output before anything of it is stored: a malformed result is the rule's bug. */
  function validated(result: StepResult<unknown>): { json: string; signals: AlertSignal[] } {
    const json = JSON.stringify(result.state);
    if (typeof json !== 'string') throw new TypeError('rule state is not JSON-serialisable');
    const signals = result.signals.map((s) => AlertSignalSchema.parse(s));
    for (const t of result.timers) if (!Number.isFinite(t.at) || t.key.length === 0) throw new TypeError('bad timer request');
    return { json, signals };
  }

  /**
   * One step of one rule for one (home, subject), in one transaction. `firing` is the timer row being
   * fired: it is deleted in the same transaction, and a row already gone (fired, moved or cancelled) means
   * the step does not run at all.
   */
  function runStep(rule: AnyRule, plan: CarePlan, subject: string, input: RuleInput, firing?: TimerRow): void {
    const homeId = plan.homeId;
    const now = clock.now();
    const toArm: TimerRow[] = [];
    const toDisarm: Omit<TimerRow, 'at'>[] = [];
    const failKey = `${rule.id}|${homeId}`;
    const body = (): void => {
      if (firing !== undefined && q.fire.run(firing.rule, firing.home_id, firing.subject, firing.key, firing.at).changes === 0) return;
      let out: { json: string; signals: AlertSignal[]; result: StepResult<unknown>; stored: string | undefined };
      try {
        const ctx: RuleContext<unknown> = { now, plan, params: paramsFor(rule, plan) };
        const loaded = q.loadState(rule, homeId, subject);
        const result = rule.step(loaded.state, input, ctx);
        // The common case under telemetry: the very state object back and nothing asked — nothing to check or store.
        if (
          result.state === loaded.state &&
          loaded.json !== undefined &&
          result.signals.length === 0 &&
          result.timers.length === 0 &&
          (result.cancel?.length ?? 0) === 0
        ) {
          if (failing.delete(failKey)) emit(failureSignal('clear', rule, homeId, now));
          return;
        }
        out = { ...validated(result), result, stored: loaded.json };
      } catch (err) {
        // Isolated: the state stays as it was, the (fired) timer stays deleted so it cannot loop.
        logger.error({ event: 'rules.rule_failed', rule: rule.id, homeId, subject, input: input.type, err }, 'rule threw; state kept');
        if (!failing.has(failKey)) {
          failing.add(failKey);
          emit(failureSignal('raise', rule, homeId, now, err));
        }
        return;
      }
      // Most inputs change nothing (a heartbeat, a reading inside limits): no write for those.
      if (out.json !== out.stored) {
        q.storeState(rule, homeId, subject, out.json, iso(now));
      }
      for (const key of out.result.cancel ?? []) {
        q.cancel.run(rule.id, homeId, subject, key);
        toDisarm.push({ rule: rule.id, home_id: homeId, subject, key });
      }
      for (const t of out.result.timers) {
        const row = { rule: rule.id, home_id: homeId, subject, key: t.key, at: iso(t.at) };
        q.setTimer.run(row.rule, row.home_id, row.subject, row.key, row.at);
        toArm.push(row);
      }
      if (failing.delete(failKey)) emit(failureSignal('clear', rule, homeId, now));
      for (const s of out.signals) emit(s);
    };
    if (batch !== undefined) {
      // Inside handleEvents' transaction: a SQLite failure rolls the chunk back (handleEvents retries one by one).
      body();
      batch.toDisarm.push(...toDisarm);
      batch.toArm.push(...toArm);
      return;
    }
    try {
      db.transaction(body)();
    } catch (err) {
      // SQLite itself failed: nothing was committed; a fired timer's row is still there for the next start.
      q.forget();
      logger.error({ event: 'rules.store_failed', rule: rule.id, homeId, subject, err }, 'rule step not stored');
      return;
    }
    for (const d of toDisarm) disarm(d);
    for (const row of toArm) arm(row);
  }

  function fire(row: TimerRow, entry: { at: string }): void {
    const id = timerId(row);
    if (armed.get(id) === entry) armed.delete(id);
    if (closed) return;
    const rule = byId.get(row.rule);
    const plan = care.planFor(row.home_id);
    if (rule === undefined || plan === undefined) {
      // A rule no longer shipped or a home no longer cared for: drop the timer rather than re-arm it forever.
      q.fire.run(row.rule, row.home_id, row.subject, row.key, row.at);
      logger.warn({ event: 'rules.timer_dropped', rule: row.rule, homeId: row.home_id }, 'timer for unknown rule or home dropped');
      return;
    }
    runStep(rule, plan, row.subject, { type: 'timer', key: row.key, at: Date.parse(row.at), subject: row.subject }, row);
  }

  /**
   * `redo` (a plan change): the home's future schedule timers were dropped — these ids — and are armed again
   * from now under the new plan. A check whose period began before now (a dose at 08:00, re-armed at 08:30) is
   * armed only if it was armed before: a plan edit or a home's first arming never makes a dose that nobody
   * was watching count as missed.
   */
  function armSchedule(homeId: string, redo?: ReadonlySet<string>): void {
    const plan = care.planFor(homeId);
    if (plan === undefined) return;
    scheduledHomes.add(homeId);
    const now = clock.now();
    for (const rule of rules) {
      if (rule.schedule === undefined) continue;
      const toArm: TimerRow[] = [];
      try {
        db.transaction(() => {
          const until = q.armedUntil.get(rule.id, homeId);
          // Continue where the last arming stopped, so a deadline that fired (row deleted) is never armed
          // twice; after a long outage, start from now (deadlines of days the gateway was down are not replayed).
          const from = redo !== undefined || until === undefined ? now : Math.max(Date.parse(until.armed_until), now);
          const to = now + horizon;
          if (to <= from) return;
          const ctx: RuleContext<unknown> = { now, plan, params: paramsFor(rule, plan) };
          const fresh = until === undefined || redo !== undefined;
          for (const t of rule.schedule?.(ctx, from, to) ?? []) {
            if (t.at < from || t.at >= to) continue;
            const row = { rule: rule.id, home_id: homeId, subject: t.subject, key: t.key, at: iso(t.at) };
            if (fresh && t.startsAt !== undefined && t.startsAt < now && redo?.has(timerId(row)) !== true) continue;
            if (q.addScheduled.run(row.rule, row.home_id, row.subject, row.key, row.at).changes > 0) toArm.push(row);
          }
          q.setArmedUntil.run(rule.id, homeId, iso(to));
        })();
      } catch (err) {
        logger.error({ event: 'rules.schedule_failed', rule: rule.id, homeId, err }, 'schedule not armed');
        continue;
      }
      for (const row of toArm) arm(row);
    }
  }

  function armAllSchedules(): void {
    const homes = new Set([...(deps.homes?.() ?? []), ...scheduledHomes]);
    for (const h of homes) armSchedule(h);
  }

  function rearmLoop(): void {
    rearmHandle = clock.setTimer(clock.now() + rearmEvery, () => {
      if (closed) return;
      armAllSchedules();
      rearmLoop();
    });
  }

  function route(homeId: string, input: Exclude<RuleInput, { type: 'timer' }>): void {
    const plan = care.planFor(homeId);
    if (plan === undefined) {
      logger.debug({ event: 'rules.unknown_home', homeId }, 'input for a home without a care plan skipped');
      return;
    }
    if (!scheduledHomes.has(homeId)) armSchedule(homeId);
    for (const rule of rules) {
      let subjects: readonly string[];
      try {
        subjects = rule.subjects(input, { now: clock.now(), plan, params: paramsFor(rule, plan) });
      } catch (err) {
        logger.error({ event: 'rules.rule_failed', rule: rule.id, homeId, input: input.type, err }, 'rule subjects() threw');
        const failKey = `${rule.id}|${homeId}`;
        if (!failing.has(failKey)) {
          failing.add(failKey);
          emit(failureSignal('raise', rule, homeId, clock.now(), err));
        }
        continue;
      }
      for (const subject of new Set(subjects)) runStep(rule, plan, subject, input);
    }
  }

  return {
    start() {
      for (const f of deps.openFailures?.() ?? []) failing.add(`${f.subject}|${f.homeId}`);
      for (const row of q.allTimers.all()) arm(row);
      armAllSchedules();
      rearmLoop();
    },
    handleEvents(events) {
      const each = (): void => {
        for (const event of events)
          if (event.homeId !== null) route(event.homeId, { type: 'event', event, kind: deps.deviceKind?.(event.deviceId) });
      };
      // One transaction for the chunk: a commit per rule step was the gateway's bottleneck under load.
      const pending: NonNullable<typeof batch> = { toArm: [], toDisarm: [] };
      batch = pending;
      try {
        db.transaction(each)();
      } catch (err) {
        batch = undefined;
        q.forget();
        logger.warn({ event: 'rules.batch_failed', events: events.length, err }, 'rule steps of a chunk not stored; one at a time');
        each();
        return;
      } finally {
        batch = undefined;
      }
      for (const d of pending.toDisarm) disarm(d);
      for (const row of pending.toArm) arm(row);
    },
    handleDeviceStatus(change) {
      route(change.homeId, { type: 'device-status', ...change });
    },
    replan(homeId) {
      const now = clock.now();
      const dropped = db.transaction(() => {
        const rows = q.futureScheduled.all(homeId, iso(now));
        for (const r of rows) q.cancel.run(r.rule, r.home_id, r.subject, r.key);
        return rows;
      })();
      for (const r of dropped) disarm(r);
      armSchedule(homeId, new Set(dropped.map(timerId)));
    },
    armedTimers: () => armed.size,
    close() {
      closed = true;
      rearmHandle?.cancel();
      for (const { handle } of armed.values()) handle.cancel();
      armed.clear();
    },
  };
}
