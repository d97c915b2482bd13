// Test support for the rule engine: synthetic care plans and canonical events, and an engine on the shared
// virtual clock (simulators/clock.ts virtualClock, tests only) with an in-memory or on-disk SQLite database.
import type { CanonicalEvent, EventBody } from '../../../adapters/canonical.js';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import type { CarePlan } from '../../../gateway/care/model.js';
import { openDatabase, type Database } from '../../../gateway/db/sqlite.js';
import type { AnyRule } from '../../../gateway/rules/contract.js';
import { createRuleEngine, type RuleEngine, type RuleLogger } from '../../../gateway/rules/engine.js';
import { RULES } from '../../../gateway/rules/registry.js';
import { virtualClock, type VirtualClock } from '../../../simulators/clock.js';

export const MIN = 60_000;
export const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];

export function plan(over: Partial<CarePlan> = {}): CarePlan {
  return {
    homeId: 'h001',
    teamId: 't01',
    timeZone: 'Europe/Oslo',
    doses: [{ time: '08:00', windowMinutes: 60, graceMinutes: 30, weekdays: ALL_DAYS }],
    night: { from: '22:00', to: '07:00' },
    visits: [],
    overrides: {},
    ...over,
  };
}

let seq = 0;
export function event(deviceId: string, body: EventBody, at: number, homeId: string | null = 'h001'): CanonicalEvent {
  seq += 1;
  const t = new Date(at).toISOString();
  return {
    eventId: seq.toString(16).padStart(32, '0'),
    deviceId,
    homeId,
    adapter: { id: 'native', version: 1 },
    observedAt: t,
    receivedAt: t,
    body,
  };
}

export interface LogLine {
  level: 'error' | 'warn' | 'debug';
  obj: object;
  msg: string;
}

export interface Harness {
  readonly clock: VirtualClock;
  readonly db: Database;
  readonly engine: RuleEngine;
  readonly signals: AlertSignal[];
  readonly logs: LogLine[];
  /** Publishes one event at the clock's current time. */
  send(deviceId: string, body: EventBody, homeId?: string): CanonicalEvent;
  raised(rule?: string): AlertSignal[];
  cleared(rule?: string): AlertSignal[];
}

export function harness(opts: {
  start: number;
  plans?: CarePlan[];
  rules?: readonly AnyRule[];
  db?: Database;
  clock?: VirtualClock;
  autoStart?: boolean;
  openFailures?: () => Iterable<{ homeId: string; subject: string }>;
}): Harness {
  const clock = opts.clock ?? virtualClock(opts.start);
  const db = opts.db ?? openDatabase(':memory:');
  const plans = opts.plans ?? [plan()];
  const signals: AlertSignal[] = [];
  const logs: LogLine[] = [];
  const logger: RuleLogger = {
    error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
    debug: (obj, msg) => logs.push({ level: 'debug', obj, msg }),
  };
  const engine = createRuleEngine({
    db,
    clock,
    care: { planFor: (h) => plans.find((p) => p.homeId === h) },
    rules: opts.rules ?? RULES,
    onSignal: (s) => signals.push(s),
    logger,
    homes: () => plans.map((p) => p.homeId),
    ...(opts.openFailures ? { openFailures: opts.openFailures } : {}),
  });
  if (opts.autoStart !== false) engine.start();
  return {
    clock,
    db,
    engine,
    signals,
    logs,
    send(deviceId, body, homeId = 'h001') {
      const e = event(deviceId, body, clock.now(), homeId);
      engine.handleEvents([e]);
      return e;
    },
    raised: (rule) => signals.filter((s) => s.action === 'raise' && (rule === undefined || s.rule === rule)),
    cleared: (rule) => signals.filter((s) => s.action === 'clear' && (rule === undefined || s.rule === rule)),
  };
}
