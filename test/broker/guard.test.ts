import { describe, expect, it } from 'vitest';
import { createPacketGuard } from '../../broker/guard.js';
import { createLockout } from '../../broker/lockout.js';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}
const header = (type: number, remaining: number): Buffer => Buffer.from([type, ...varint(remaining)]);

describe('packet guard', () => {
  it('passes packets within the limit, across chunk boundaries', () => {
    const guard = createPacketGuard(() => 100);
    const packet = Buffer.concat([header(0x30, 50), Buffer.alloc(50)]);
    const stream = Buffer.concat([packet, packet, packet]);
    // Feed it one byte at a time: headers and bodies split everywhere.
    for (const byte of stream) expect(guard.scan(Buffer.from([byte])).ok).toBe(true);
  });

  it('refuses a packet declaring more than the limit as soon as its header is complete', () => {
    const guard = createPacketGuard(() => 16 * 1024);
    const verdict = guard.scan(header(0x10, 256 * 1024 * 1024 - 1));
    expect(verdict).toEqual({ ok: false, reason: 'too_large', declared: 1 + 4 + 256 * 1024 * 1024 - 1, limit: 16 * 1024 });
  });

  it('counts the fixed header into the limit', () => {
    const limit = 1 + 2 + 200; // type byte, two varint bytes, body
    expect(createPacketGuard(() => limit).scan(header(0x30, 200)).ok).toBe(true);
    expect(createPacketGuard(() => limit).scan(header(0x30, 201)).ok).toBe(false);
  });

  it('refuses a remaining length with a fifth continuation byte [MQTT-2.2.3]', () => {
    expect(createPacketGuard(() => 1e9).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('asks for the limit per packet, so it can rise after authentication', () => {
    let limit = 10;
    const guard = createPacketGuard(() => limit);
    expect(guard.scan(Buffer.concat([header(0x10, 5), Buffer.alloc(5)])).ok).toBe(true);
    limit = 1000;
    expect(guard.scan(Buffer.concat([header(0x30, 500), Buffer.alloc(500)])).ok).toBe(true);
  });
});

describe('lockout', () => {
  const opts = { maxFailures: 3, windowSec: 60, lockSec: 900 };
  it('locks a key after maxFailures within the window, for lockSec', () => {
    let t = 0;
    const l = createLockout(opts, () => t);
    expect(l.fail('dev:a')).toBe(false);
    expect(l.fail('dev:a')).toBe(false);
    expect(l.fail('dev:a')).toBe(true);
    expect(l.lockedFor(['dev:a'])).toBe(900_000);
    expect(l.lockedFor(['dev:b'])).toBe(0);
    t = 900_000;
    expect(l.lockedFor(['dev:a'])).toBe(0);
  });
  it('forgets failures older than the window', () => {
    let t = 0;
    const l = createLockout(opts, () => t);
    l.fail('k');
    l.fail('k');
    t = 60_001;
    expect(l.fail('k')).toBe(false);
    expect(l.lockedFor(['k'])).toBe(0);
  });
});
