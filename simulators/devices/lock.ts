import type { ChildSpec, DeviceContext, DeviceSpec } from '../types.js';
import { assemble, battery, heartbeats, type Behaviour, type Subject, type TracedAction } from './common.js';
import type { SimEvent } from './events.js';
import { doorPlan } from './home-plan.js';

// Electronic door lock on the front door: staff visits (RFID tag or keypad code; the lock reports the
// credential's opaque reference, or for Zigbee locks its user slot), the door's own contact (opened, closed),
// and the door incidents of the home plan: door-left-open (the lock reports left_open after 2 minutes),
// door-opened-at-night, door-forced, failed-attempts. Battery-powered like most retrofit locks.

export function lockBehaviour(s: Subject & { home: string; model: string }, ctx: DeviceContext, child?: ChildSpec): Behaviour {
  const tag = child !== undefined ? { child } : {};
  const bat = battery(s, ctx);
  const level = bat.level(ctx.start);
  const initial: SimEvent[] = [
    { type: 'lock', kind: 'locked' },
    { type: 'lock', kind: 'closed' },
    ...(level !== undefined ? [{ type: 'status' as const, batteryPct: level, batteryLow: bat.low(ctx.start) }] : []),
  ];
  const happenings = [
    ...doorPlan(s.home, ctx).map((step) => ({ at: step.at, events: [step.event], ...tag })),
    ...heartbeats(s, ctx, bat, child !== undefined, child),
  ];
  return { initial, happenings };
}

export function lockActions(spec: DeviceSpec, ctx: DeviceContext): Iterable<TracedAction> {
  const b = lockBehaviour(spec, ctx);
  return assemble(spec, ctx, b.happenings, new Map([['', b.initial]]));
}
