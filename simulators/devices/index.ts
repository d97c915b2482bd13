import { formatsFor } from '../formats/index.js';
import type { Action, DeviceContext, DeviceSpec } from '../types.js';
import type { TracedAction } from './common.js';
import { dispenserActions } from './dispenser.js';
import { hubActions } from './hub.js';
import { lockActions } from './lock.js';
import { sensorActions } from './sensor.js';
import { vitalsActions } from './vitals.js';

// Device behaviour models: (spec, context) → the client's actions, time-ordered, all within
// [ctx.start, ctx.end). Pure: the same spec and context (same seeded rand) give byte-identical actions.

export type { TracedAction } from './common.js';
export type * from './events.js';
export { DEFAULT_SLOTS, TAKE_WINDOW } from './dispenser.js';

const MODELS = {
  dispenser: dispenserActions,
  lock: lockActions,
  sensor: sensorActions,
  vitals: vitalsActions,
  bridge: hubActions,
} as const satisfies Record<DeviceSpec['kind'], (spec: DeviceSpec, ctx: DeviceContext) => Iterable<TracedAction>>;

/** Whether a device of this kind can speak this format (scenario validation asks before expanding a fleet). */
export function supports(spec: Pick<DeviceSpec, 'kind' | 'format'>): boolean {
  return formatsFor(spec.kind).includes(spec.format);
}

function modelFor(spec: DeviceSpec): (spec: DeviceSpec, ctx: DeviceContext) => Iterable<TracedAction> {
  if (!supports(spec)) {
    throw new Error(`device ${spec.id}: a ${spec.kind} does not speak ${spec.format} (it speaks ${formatsFor(spec.kind).join(', ')})`);
  }
  return MODELS[spec.kind];
}

/** Each action with the simulator events it carries: what the simulator meant (tests decode and compare). */
export function deviceTrace(spec: DeviceSpec, ctx: DeviceContext): TracedAction[] {
  return [...modelFor(spec)(spec, ctx)];
}

/** The client's actions, lazily: payloads are encoded as the caller pulls (the timeline pulls one at a time). */
export function deviceActions(spec: DeviceSpec, ctx: DeviceContext): Iterable<Action> {
  const traced = modelFor(spec)(spec, ctx);
  return (function* () {
    for (const t of traced) yield t.action;
  })();
}
