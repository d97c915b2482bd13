import { describe, expect, it } from 'vitest';
import { clockForSpeed, realClock, scaledClock, virtualClock } from '../../simulators/clock.js';

const T0 = Date.UTC(2026, 2, 10, 5, 0);

describe('virtualClock', () => {
  it('stands still until advanced, and never goes backwards', () => {
    const c = virtualClock(T0);
    expect(c.now()).toBe(T0);
    c.advanceBy(1000);
    expect(c.now()).toBe(T0 + 1000);
    c.advanceTo(T0);
    expect(c.now()).toBe(T0 + 1000);
  });

  it('fires timers due on the way in time order, each seeing its own due time', () => {
    const c = virtualClock(T0);
    const seen: [string, number][] = [];
    c.setTimer(T0 + 300, () => seen.push(['c', c.now()]));
    c.setTimer(T0 + 100, () => seen.push(['a', c.now()]));
    c.setTimer(T0 + 200, () => seen.push(['b', c.now()]));
    c.setTimer(T0 + 900, () => seen.push(['late', c.now()]));
    c.advanceTo(T0 + 500);
    expect(seen).toEqual([
      ['a', T0 + 100],
      ['b', T0 + 200],
      ['c', T0 + 300],
    ]);
    expect(c.now()).toBe(T0 + 500);
    expect(c.pending()).toBe(1);
  });

  it('fires timers with the same deadline in the order they were set', () => {
    const c = virtualClock(T0);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) c.setTimer(T0 + 10, () => seen.push(i));
    c.advanceBy(10);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('fires a timer set from a callback when it falls due within the same advance', () => {
    const c = virtualClock(T0);
    const seen: number[] = [];
    c.setTimer(T0 + 100, () => c.setTimer(T0 + 150, () => seen.push(c.now())));
    c.advanceTo(T0 + 200);
    expect(seen).toEqual([T0 + 150]);
  });

  it('does not fire cancelled timers', () => {
    const c = virtualClock(T0);
    let fired = false;
    const t = c.setTimer(T0 + 10, () => (fired = true));
    t.cancel();
    t.cancel();
    c.advanceBy(100);
    expect(fired).toBe(false);
    expect(c.pending()).toBe(0);
  });

  it('fires a timer set in the past at the next advance, not inside setTimer', () => {
    const c = virtualClock(T0);
    let fired = 0;
    c.setTimer(T0 - 1000, () => fired++);
    expect(fired).toBe(0);
    c.advanceBy(0);
    expect(fired).toBe(1);
  });

  it('is driven by waitUntil: 24 simulated hours pass at once', async () => {
    const c = virtualClock(T0);
    const fired: number[] = [];
    for (let h = 1; h <= 24; h++) c.setTimer(T0 + h * 3_600_000, () => fired.push(h));
    const wall = performance.now();
    await c.waitUntil(T0 + 24 * 3_600_000);
    expect(performance.now() - wall).toBeLessThan(1000);
    expect(fired).toHaveLength(24);
    expect(c.now()).toBe(T0 + 24 * 3_600_000);
  });
});

describe('scaledClock and realClock', () => {
  it('runs scenario time N times faster than the wall clock', async () => {
    const c = scaledClock(T0, 100);
    const wall = performance.now();
    await c.waitUntil(T0 + 2_000); // 2 s of scenario time = 20 ms of wall time
    const took = performance.now() - wall;
    expect(c.now()).toBeGreaterThanOrEqual(T0 + 2_000);
    expect(took).toBeGreaterThanOrEqual(15);
    expect(took).toBeLessThan(1_000);
  });

  it('fires a timer once, not early, and not after cancel', async () => {
    const c = scaledClock(T0, 50);
    const seen: number[] = [];
    c.setTimer(T0 + 500, () => seen.push(c.now()));
    const cancelled = c.setTimer(T0 + 500, () => seen.push(-1));
    cancelled.cancel();
    await c.waitUntil(T0 + 1_500);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThanOrEqual(T0 + 500);
  });

  it('refuses a speed that is not a positive number', () => {
    expect(() => scaledClock(T0, 0)).toThrow(RangeError);
    expect(() => scaledClock(T0, Number.NaN)).toThrow(RangeError);
  });

  it('realClock shows wall time', async () => {
    const c = realClock();
    expect(Math.abs(c.now() - Date.now())).toBeLessThan(50);
    const target = c.now() + 20;
    await c.waitUntil(target);
    expect(Date.now()).toBeGreaterThanOrEqual(target);
  });

  it('speed max is virtual time', () => {
    const c = clockForSpeed(T0, 'max');
    expect('advanceTo' in c).toBe(true);
  });
});
