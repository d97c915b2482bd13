import { z } from 'zod';
import type { AlertSignal } from '../alerts/signal.js';
import { defineRule, eventTime, unchanged, type RuleContext } from './contract.js';

// Low battery (issue 5): a device reports battery_low, or a battery_pct at or below the threshold (default
// 15 %) → a low technical alert for that device, once; it clears when the battery has been replaced: a
// battery_pct at or above threshold + hysteresis (default 25 %), or battery_low false from a device that sends
// no percentage. The hysteresis keeps a voltage-estimated level wobbling 14–17 % from clearing and raising again.
// A message saying battery_low true wins over its own percentage (the device knows its cell best).

export const LowBatteryParamsSchema = z.object({
  thresholdPct: z.int().min(1).max(99).default(15),
  hysteresisPct: z.int().min(0).max(50).default(10),
});
export type LowBatteryParams = z.infer<typeof LowBatteryParamsSchema>;

export interface LowBatteryState {
  readonly raised: boolean;
  /**
   * Epoch ms of the report that raised or cleared (a report older than that, arriving late, is ignored; kept
   * only at changes so a heartbeat's battery level costs no write).
   */
  readonly at: number | null;
}

function signal(action: 'raise' | 'clear', deviceId: string, ctx: RuleContext<LowBatteryParams>, note: string): AlertSignal {
  return {
    action,
    rule: 'low-battery',
    homeId: ctx.plan.homeId,
    subject: deviceId,
    severity: 'low',
    kind: 'technical',
    title: action === 'raise' ? 'Battery low' : 'Battery replaced',
    at: ctx.now,
    evidence: [{ deviceId, note }],
  };
}

export const lowBatteryRule = defineRule<LowBatteryState, LowBatteryParams>({
  id: 'low-battery',
  version: 1,
  defaults: LowBatteryParamsSchema,
  initial: () => ({ raised: false, at: null }),
  subjects(input) {
    if (input.type !== 'event' || input.event.deviceId === '') return [];
    const b = input.event.body;
    return b.type === 'status' && (b.status.battery_pct !== undefined || b.status.battery_low !== undefined) ? [input.event.deviceId] : [];
  },
  step(state, input, ctx) {
    if (input.type !== 'event' || input.event.homeId === null || input.event.deviceId === '') return unchanged(state);
    const b = input.event.body;
    if (b.type !== 'status') return unchanged(state);
    const { battery_pct: pct, battery_low: lowFlag } = b.status;
    if (pct === undefined && lowFlag === undefined) return unchanged(state);
    const t = eventTime(input.event, ctx.now);
    if (state.at !== null && t < state.at) return unchanged(state);
    const { thresholdPct, hysteresisPct } = ctx.params;
    const low = lowFlag === true || (pct !== undefined && pct <= thresholdPct);
    const replaced = lowFlag !== true && (pct !== undefined ? pct >= thresholdPct + hysteresisPct : lowFlag === false);
    const deviceId = input.event.deviceId;
    const level = pct === undefined ? 'reported low' : `${Math.round(pct)} %`;
    if (low && !state.raised)
      return { state: { raised: true, at: t }, signals: [signal('raise', deviceId, ctx, `battery ${level}`)], timers: [] };
    if (replaced && state.raised)
      return {
        state: { raised: false, at: t },
        signals: [signal('clear', deviceId, ctx, pct === undefined ? 'battery ok' : `battery ${level}`)],
        timers: [],
      };
    return unchanged(state);
  },
});
