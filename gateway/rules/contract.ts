import type { z } from 'zod';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import type { AlertSignal, RuleId } from '../alerts/signal.js';
import type { CarePlan } from '../care/model.js';

// The rule contract (issue 5 item 2): a rule is data plus pure functions. It never reads a clock, never does
// I/O and never keeps anything outside the state it is handed, so the engine can persist that state and a
// rule behaves the same after a restart as before it. Time arrives as `ctx.now` and in the inputs.

export type DeviceKind = 'dispenser' | 'lock' | 'sensor' | 'vitals' | 'bridge';

/** A device's connection changed (MQTT status topic, LWT). The caller resolves the device's home. */
export interface DeviceStatusChange {
  readonly deviceId: string;
  readonly homeId: string;
  /** When the caller knows it (registry): lets rules tell a dispenser from a door sensor. */
  readonly kind?: DeviceKind | undefined;
  readonly online: boolean;
  /** Epoch ms the change was seen. */
  readonly at: number;
}

export type RuleInput =
  /** `kind` is the sending device's class from the registry when the engine knows it (device-silent, low-battery). */
  | { readonly type: 'event'; readonly event: CanonicalEvent; readonly kind?: DeviceKind | undefined }
  | ({ readonly type: 'device-status' } & DeviceStatusChange)
  /**
   * A timer the rule asked for (or its schedule armed) reached its time. `at` is when it was due; `subject`
   * is the state partition it was set for (so a rule need not copy its own subject into its state).
   */
  | { readonly type: 'timer'; readonly key: string; readonly at: number; readonly subject: string };

export interface RuleContext<P> {
  /** Epoch ms, the injected clock's time when the engine runs the step (may be after a timer's `at`). */
  readonly now: number;
  readonly plan: CarePlan;
  /** The rule's defaults, with the home's overrides (CarePlan.overrides[ruleId]) applied. */
  readonly params: P;
}

export interface TimerRequest {
  /** Epoch ms. */
  readonly at: number;
  /** Unique within (rule, home, subject); asking again with the same key moves the timer. */
  readonly key: string;
}

export interface StepResult<S> {
  readonly state: S;
  readonly signals: readonly AlertSignal[];
  readonly timers: readonly TimerRequest[];
  /** Keys of this subject's pending timers to drop (compatible extension: a rule may also just ignore stale ones). */
  readonly cancel?: readonly string[];
}

/** A schedule-based check: the engine arms these for each home, for today and tomorrow, and re-arms daily. */
export interface ScheduledTimer {
  readonly subject: string;
  readonly key: string;
  readonly at: number;
  /**
   * When the checked period began (a dose's time). The first time the gateway arms a home, a check whose
   * period began before that moment is skipped: nobody was watching the dose, so its deadline proves nothing.
   */
  readonly startsAt?: number;
}

export interface Rule<S, P> {
  readonly id: RuleId;
  /** Bumped when the state's shape changes: a stored state of another version is discarded (rule starts fresh). */
  readonly version: number;
  /** Parameters with their defaults; `parse({})` must succeed. Overrides per home come from the care plan. */
  readonly defaults: z.ZodType<P>;
  /** A fresh state for a (home, subject) the rule has not seen. Must be JSON-serialisable. */
  initial(): S;
  /**
   * Which subjects of the event's home an input concerns (empty = not this rule's business). The subject is
   * the state's partition: usually the alert subject too (a device), but a rule may keep one state per home
   * and name finer subjects in its signals (missed-dose: state per home, alerts per dose).
   */
  subjects(input: Exclude<RuleInput, { type: 'timer' }>, ctx: RuleContext<P>): readonly string[];
  step(state: S, input: RuleInput, ctx: RuleContext<P>): StepResult<S>;
  /** Schedule-based checks whose time lies in [from, to) for this home. */
  schedule?(ctx: RuleContext<P>, from: number, to: number): readonly ScheduledTimer[];
}

/**
 * A rule as the registry and the engine hold it. Method parameters are checked bivariantly, which is what
 * lets `Rule<MissedDoseState, MissedDoseParams>` sit in one list with the others.
 */
export type AnyRule = Rule<unknown, unknown>;

/** Keeps a rule's own types while checking it against the contract. */
export function defineRule<S, P>(rule: Rule<S, P>): Rule<S, P> {
  return rule;
}

/** The result of a step that changes nothing. */
export function unchanged<S>(state: S): StepResult<S> {
  return { state, signals: [], timers: [] };
}

/** Epoch ms of a canonical instant; NaN never leaves here (a bad instant falls back to `fallback`). */
export function instantMs(iso: string, fallback: number): number {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : fallback;
}

/** When an event happened, for rules: the device's time, but never in the future (a fast device clock). */
export function eventTime(event: CanonicalEvent, now: number): number {
  return Math.min(instantMs(event.observedAt, now), now);
}
