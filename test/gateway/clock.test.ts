import { describe, expect, it } from 'vitest';
import { systemClock } from '../../gateway/clock.js';

// The real system clock (no fake): short real waits, bounded.

describe('systemClock', () => {
  it('fires a timer once the deadline has passed, never before it', async () => {
    const clock = systemClock();
    const at = clock.now() + 60;
    const firedAt = await new Promise<number>((resolve) => clock.setTimer(at, () => resolve(clock.now())));
    expect(firedAt).toBeGreaterThanOrEqual(at);
    expect(firedAt - at).toBeLessThan(1000);
  });

  it('a deadline in the past fires at once; a cancelled one never', async () => {
    const clock = systemClock();
    const fired: string[] = [];
    clock.setTimer(clock.now() - 5000, () => fired.push('past'));
    clock.setTimer(clock.now() + 30, () => fired.push('cancelled')).cancel();
    await new Promise((r) => setTimeout(r, 100));
    expect(fired).toEqual(['past']);
  });
});
