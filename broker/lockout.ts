import type { LockoutOptions } from './types.js';

// Failed-login lockout: after `maxFailures` failures for one key (a device id or a source address) within
// `windowSec`, every try for that key is refused for `lockSec`. Memory is bounded: entries expire, and the
// table is swept when it grows.

interface Entry {
  failures: number[];
  lockedUntil: number;
}

const MAX_KEYS = 100_000;

export interface Lockout {
  /** Milliseconds left on a lock for any of the keys, or 0. */
  lockedFor(keys: readonly string[]): number;
  /** Records a failure; returns true when this failure started a lock. */
  fail(key: string): boolean;
  size(): number;
}

export function createLockout(opts: LockoutOptions, now: () => number): Lockout {
  const entries = new Map<string, Entry>();
  const windowMs = opts.windowSec * 1000;
  const lockMs = opts.lockSec * 1000;

  function sweep(t: number): void {
    for (const [k, e] of entries) {
      if (e.lockedUntil <= t && (e.failures.at(-1) ?? 0) + windowMs <= t) entries.delete(k);
    }
  }

  return {
    lockedFor(keys) {
      const t = now();
      let left = 0;
      for (const k of keys) {
        const e = entries.get(k);
        if (e && e.lockedUntil > t) left = Math.max(left, e.lockedUntil - t);
      }
      return left;
    },
    fail(key) {
      const t = now();
      if (entries.size >= MAX_KEYS) sweep(t);
      let e = entries.get(key);
      if (!e) {
        e = { failures: [], lockedUntil: 0 };
        entries.set(key, e);
      }
      e.failures = e.failures.filter((f) => f + windowMs > t);
      e.failures.push(t);
      if (e.failures.length >= opts.maxFailures && e.lockedUntil <= t) {
        e.lockedUntil = t + lockMs;
        e.failures = [];
        return true;
      }
      return false;
    },
    size: () => entries.size,
  };
}
