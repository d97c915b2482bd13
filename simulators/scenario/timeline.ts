// The merged timeline: every device's own action stream, interleaved by time into the one stream the player
// plays. A busy district has ~1,500 devices and a day of actions each, so nothing is materialised: a heap
// holds one pending action per device and pulls the next from that device's iterator only when it is played.
import { deviceActions } from '../devices/index.js';
import type { Action, DeviceContext, DeviceSpec, Incident } from '../types.js';
import { expandFleet } from './fleet.js';
import type { Scenario } from './load.js';
import { deriveRand } from './random.js';

export type DeviceModel = (spec: DeviceSpec, ctx: DeviceContext) => Iterable<Action>;

/** What device `spec` of scenario `s` gets: its own seeded random source and its own home's incidents only. */
export function deviceContext(s: Scenario, spec: DeviceSpec, incidentsByHome?: ReadonlyMap<string, readonly Incident[]>): DeviceContext {
  return {
    start: s.start,
    end: s.end,
    timeZone: s.timeZone,
    rand: deriveRand(s.seed, `device/${spec.id}`),
    incidents: incidentsByHome?.get(spec.home) ?? s.incidents.filter((i) => i.home === spec.home),
  };
}

interface Head {
  action: Action;
  /** The device's place in the fleet: the deterministic tie-break for actions at the same instant. */
  readonly rank: number;
  readonly it: Iterator<Action>;
  readonly id: string;
}

const before = (a: Head, b: Head): boolean => a.action.at < b.action.at || (a.action.at === b.action.at && a.rank < b.rank);

/**
 * All actions of the scenario in time order; equal times in fleet order, and each device's own order kept.
 * Actions after the scenario end are cut (a model may be an endless generator). A model that goes back in
 * time is a bug in the model: it throws, naming the device, rather than playing a shuffled stream.
 */
export function* timeline(
  s: Scenario,
  fleet: readonly DeviceSpec[] = expandFleet(s),
  model: DeviceModel = deviceActions,
): Generator<Action, void, undefined> {
  const byHome = new Map<string, Incident[]>();
  for (const inc of s.incidents) byHome.set(inc.home, [...(byHome.get(inc.home) ?? []), inc]);
  const heap: Head[] = [];

  const up = (i: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(heap[i] as Head, heap[p] as Head)) return;
      [heap[i], heap[p]] = [heap[p] as Head, heap[i] as Head];
      i = p;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as Head, heap[m] as Head)) m = l;
      if (l + 1 < heap.length && before(heap[l + 1] as Head, heap[m] as Head)) m = l + 1;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as Head, heap[i] as Head];
      i = m;
    }
  };
  const next = (it: Iterator<Action>): Action | undefined => {
    const r = it.next();
    if (r.done === true) return undefined;
    if (r.value.at > s.end) {
      it.return?.();
      return undefined;
    }
    return r.value;
  };

  try {
    fleet.forEach((spec, rank) => {
      const it = model(spec, deviceContext(s, spec, byHome))[Symbol.iterator]();
      const action = next(it);
      if (action !== undefined) {
        heap.push({ action, rank, it, id: spec.id });
        up(heap.length - 1);
      }
    });
    while (heap.length > 0) {
      const head = heap[0] as Head;
      const current = head.action;
      const following = next(head.it);
      if (following === undefined) {
        const last = heap.pop() as Head;
        if (heap.length > 0) {
          heap[0] = last;
          down(0);
        }
      } else {
        if (following.at < current.at) {
          throw new Error(
            `device model for ${head.id} went back in time: ${new Date(following.at).toISOString()} after ${new Date(current.at).toISOString()}`,
          );
        }
        head.action = following;
        down(0);
      }
      yield current;
    }
  } finally {
    // Stopped early (the consumer broke out, or a model threw): let every device generator clean up.
    for (const h of heap) h.it.return?.();
  }
}
