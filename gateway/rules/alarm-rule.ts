import { z } from 'zod';
import type { AlarmEvent } from '../../adapters/canonical.js';
import type { AlertSignal, RuleId, Severity } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged, type Rule } from './contract.js';

// One detector alarm → one alert per device: `active` raises, `cleared` clears. Shared by panic, smoke and
// water-leak (fall keeps its own file). Two kinds of detector, and they repeat themselves differently:
//
// - `one-shot` (a panic button): each press is an event; the device may never send `cleared`. Repeats within
//   a short window are the same press (the bus delivers at least once, devices retransmit); a press after
//   the window raises again, which the alert lifecycle folds into the open alert (count + 1: "pressed again").
// - `standing` (smoke, water leak): the detector holds a state and keeps reporting it. Zigbee2MQTT sends a
//   device's whole cached state with every message (adapters/zigbee2mqtt.ts), so `water_leak: true` comes
//   back with every heartbeat for as long as the leak lasts: every `active` until a `cleared` is the same
//   alarm, however far apart.

export type AlarmMode = 'one-shot' | 'standing';

export interface AlarmRuleOptions {
  readonly id: RuleId;
  readonly alarmKind: AlarmEvent['kind'];
  readonly severity: Severity;
  readonly mode: AlarmMode;
  /** Short, generic: shown to nurses. */
  readonly titles: { readonly raise: string; readonly clear: string };
  /** `one-shot` only: the default of the `repeatAfterSeconds` parameter. */
  readonly repeatAfterSeconds?: number;
}

export interface AlarmParams {
  /** One-shot detectors only: an `active` from the same device within this many seconds of the raise is the same alarm. */
  readonly repeatAfterSeconds?: number | undefined;
}

export interface AlarmState {
  /** Epoch ms (event time) of the last raise, while the alarm is active. */
  readonly activeSince: number | null;
  /**
   * Epoch ms (event time) of the last clear. Events are ordered by their own times, not by arrival: a
   * redelivered or late `active` from before the clear must not raise again, nor a late `cleared` from
   * before the raise clear it.
   */
  readonly clearedAt: number | null;
}

/** A standing detector has nothing to tune: its own `cleared` ends the alarm. */
export function alarmParamsSchema(mode: AlarmMode, repeatAfterSeconds = 60): z.ZodType<AlarmParams> {
  return mode === 'one-shot' ? z.object({ repeatAfterSeconds: z.int().min(0).max(3600).default(repeatAfterSeconds) }) : z.object({});
}

export function alarmRule(o: AlarmRuleOptions): Rule<AlarmState, AlarmParams> {
  const concerns = (body: { type: string; kind?: string }): boolean => body.type === 'alarm' && body.kind === o.alarmKind;
  return defineRule<AlarmState, AlarmParams>({
    id: o.id,
    version: 1,
    defaults: alarmParamsSchema(o.mode, o.repeatAfterSeconds),
    initial: () => ({ activeSince: null, clearedAt: null }),
    subjects(input) {
      if (input.type !== 'event' || input.event.deviceId === '') return [];
      return concerns(input.event.body) ? [input.event.deviceId] : [];
    },
    step(state, input, ctx) {
      if (input.type !== 'event') return unchanged(state);
      const { event } = input;
      const body = event.body;
      if (body.type !== 'alarm' || body.kind !== o.alarmKind || event.homeId === null || event.deviceId === '') return unchanged(state);
      const t = eventTime(event, ctx.now);
      const signal = (action: AlertSignal['action']): AlertSignal => ({
        action,
        rule: o.id,
        homeId: event.homeId ?? ctx.plan.homeId,
        subject: event.deviceId,
        severity: o.severity,
        kind: 'care',
        title: action === 'raise' ? o.titles.raise : o.titles.clear,
        at: ctx.now,
        evidence: [{ eventId: event.eventId, deviceId: event.deviceId, observedAt: event.observedAt }],
      });
      if (body.state === 'active') {
        if (state.clearedAt !== null && t < state.clearedAt) return unchanged(state);
        const repeat =
          state.activeSince !== null && (o.mode === 'standing' || t - state.activeSince < (ctx.params.repeatAfterSeconds ?? 60) * 1000);
        if (repeat) return unchanged(state);
        return { state: { activeSince: t, clearedAt: state.clearedAt }, signals: [signal('raise')], timers: [] };
      }
      // A standing detector reports `cleared` at rest (every heartbeat, every reconnect): nothing to clear then.
      if (state.activeSince === null || t < state.activeSince) return unchanged(state);
      return { state: { activeSince: null, clearedAt: t }, signals: [signal('clear')], timers: [] };
    },
  });
}
