// The clocks the simulator and the gateway share (types.ts `Clock`). One interface, three sources of time:
// virtual (tests: 24 simulated hours in seconds, driven by whoever waits), scaled (the demo: N× real time)
// and real (the field). Timers live on the clock, not on the event loop, so a gateway deadline and a device
// action scheduled for the same simulated instant happen in one consistent order.
import type { Clock } from './types.js';

export interface VirtualClock extends Clock {
  /** Jumps to `t` (never backwards), firing every timer due on the way in time order, each at its own due time. */
  advanceTo(t: number): void;
  advanceBy(ms: number): void;
  /** Timers not yet fired nor cancelled (tests: "nothing left behind"). */
  pending(): number;
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

const earlier = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** A binary min-heap on (at, seq): setTimer order breaks ties, so equal deadlines fire in the order they were set. */
function timerHeap(): { push(t: Timer): void; peek(): Timer | undefined; pop(): Timer | undefined; size(): number } {
  const h: Timer[] = [];
  const swap = (i: number, j: number): void => {
    const t = h[i] as Timer;
    h[i] = h[j] as Timer;
    h[j] = t;
  };
  return {
    push(t) {
      h.push(t);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!earlier(h[i] as Timer, h[p] as Timer)) break;
        swap(i, p);
        i = p;
      }
    },
    peek: () => h[0],
    pop() {
      const top = h[0];
      const last = h.pop();
      if (h.length > 0 && last !== undefined) {
        h[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < h.length && earlier(h[l] as Timer, h[m] as Timer)) m = l;
          if (r < h.length && earlier(h[r] as Timer, h[m] as Timer)) m = r;
          if (m === i) break;
          swap(i, m);
          i = m;
        }
      }
      return top;
    },
    size: () => h.length,
  };
}

/**
 * Virtual time: it stands still until someone waits for (or advances to) a later moment, then jumps there.
 * Each timer callback sees `now()` equal to its own due time, so a rule that reads the clock inside its
 * deadline callback behaves exactly as it would in real time, only without the waiting.
 */
export function virtualClock(start: number): VirtualClock {
  let now = start;
  let seq = 0;
  let live = 0;
  const timers = timerHeap();

  const advanceTo = (t: number): void => {
    for (;;) {
      const next = timers.peek();
      if (next === undefined || next.at > t) break;
      timers.pop();
      if (next.cancelled) continue;
      next.cancelled = true;
      live--;
      // A callback may advance the clock itself (re-entrancy); never move time backwards after it.
      now = Math.max(now, next.at);
      next.fn();
    }
    now = Math.max(now, t);
  };

  return {
    now: () => now,
    waitUntil(at) {
      advanceTo(at);
      return Promise.resolve();
    },
    setTimer(at, fn) {
      // A deadline already reached fires at the next advance (advanceBy(0) included), never synchronously
      // inside setTimer: the caller has not finished its own bookkeeping yet.
      const timer: Timer = { at: Math.max(at, now), seq: seq++, fn, cancelled: false };
      timers.push(timer);
      live++;
      return {
        cancel() {
          if (!timer.cancelled) {
            timer.cancelled = true;
            live--;
          }
        },
      };
    },
    advanceTo,
    advanceBy: (ms) => advanceTo(now + ms),
    pending: () => live,
  };
}

// Node's setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits are taken in steps.
const MAX_TIMEOUT = 2 ** 31 - 1;

/** Wall-clock time mapped to scenario time: `now()` and a conversion from a scenario-time gap to wall ms. */
function wallClock(now: () => number, toWallMs: (scenarioMs: number) => number): Clock {
  const setTimer = (at: number, fn: () => void): { cancel(): void } => {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    // Timers may fire a millisecond early (and the scaled mapping rounds): re-check and re-arm until due.
    const arm = (): void => {
      if (cancelled) return;
      const left = at - now();
      if (left <= 0) {
        cancelled = true;
        fn();
        return;
      }
      handle = setTimeout(arm, Math.min(MAX_TIMEOUT, Math.max(1, Math.ceil(toWallMs(left)))));
    };
    handle = setTimeout(arm, 0);
    return {
      cancel() {
        cancelled = true;
        clearTimeout(handle);
      },
    };
  };
  return {
    now,
    setTimer,
    waitUntil: (at) =>
      at <= now()
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            setTimer(at, resolve);
          }),
  };
}

/**
 * Scenario time running `speed` times faster than the wall clock from `start` (speed 1 = real time, but
 * starting at `start`). Elapsed time comes from the monotonic clock, so an NTP step does not jump the demo.
 */
export function scaledClock(start: number, speed: number): Clock {
  if (!Number.isFinite(speed) || speed <= 0) throw new RangeError(`speed must be a positive number, got ${speed}`);
  const wallStart = performance.now();
  return wallClock(
    () => start + Math.floor((performance.now() - wallStart) * speed),
    (ms) => ms / speed,
  );
}

/** The real clock (field use): scenario time is wall time. */
export function realClock(): Clock {
  return wallClock(Date.now, (ms) => ms);
}

/** The clock a run at `speed` needs: `max` means no waiting at all, i.e. virtual time. */
export function clockForSpeed(start: number, speed: number | 'max'): Clock {
  return speed === 'max' ? virtualClock(start) : scaledClock(start, speed);
}
