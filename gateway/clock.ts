// The gateway's clock: what "now" is and how a deadline fires. Injected everywhere time matters (journal
// receive times, assignments, rule deadlines, escalations), so tests and simulations run the gateway on a
// virtual clock they share with the simulators (simulators/clock.ts satisfies this shape) and a 24-hour day
// passes in seconds; in the field it is the system clock.

export interface GatewayClock {
  now(): number;
  /** Calls `fn` once the clock shows `at` (epoch ms) or later; at once (next turn) when `at` has passed. */
  setTimer(at: number, fn: () => void): { cancel(): void };
}

/** setTimeout's longest delay (2^31 − 1 ms, ~24.8 days); longer waits are re-armed in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export function systemClock(): GatewayClock {
  return {
    now: () => Date.now(),
    setTimer(at, fn) {
      let timer: NodeJS.Timeout | undefined;
      let cancelled = false;
      const arm = (): void => {
        const delay = at - Date.now();
        timer = setTimeout(
          () => {
            if (cancelled) return;
            if (Date.now() >= at) fn();
            else arm();
          },
          Math.min(Math.max(0, delay), MAX_DELAY_MS),
        );
        // A deadline alone must not keep a stopping process alive; the gateway's servers do.
        timer.unref();
      };
      arm();
      return {
        cancel() {
          cancelled = true;
          if (timer) clearTimeout(timer);
        },
      };
    },
  };
}
