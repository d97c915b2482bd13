import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, verifySecret } from '../../../gateway/devices/secrets.js';

describe('device secrets', () => {
  it('generates tgs_ + 32 random bytes in base64url', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^tgs_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret.slice(4), 'base64url')).toHaveLength(32);
    const many = new Set(Array.from({ length: 200 }, generateSecret));
    expect(many.size).toBe(200);
  });

  it('hashes to sha256: + the hex digest of the secret', () => {
    const secret = generateSecret();
    const hash = hashSecret(secret);
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hash).toBe(`sha256:${createHash('sha256').update(secret).digest('hex')}`);
    expect(hash).not.toContain(secret.slice(4));
  });

  it('refuses to hash anything but a generated secret', () => {
    expect(() => hashSecret('hunter2')).toThrow(/generateSecret/);
    expect(() => hashSecret(`${generateSecret()}x`)).toThrow();
  });

  it('verifies the right secret, as a string or as the Buffer MQTT delivers', () => {
    const secret = generateSecret();
    const hash = hashSecret(secret);
    expect(verifySecret(secret, hash)).toBe(true);
    expect(verifySecret(Buffer.from(secret), hash)).toBe(true);
  });

  it('rejects a wrong secret', () => {
    const hash = hashSecret(generateSecret());
    expect(verifySecret(generateSecret(), hash)).toBe(false);
    expect(verifySecret('', hash)).toBe(false);
    expect(verifySecret(Buffer.alloc(0), hash)).toBe(false);
    expect(verifySecret(Buffer.alloc(10_000, 1), hash)).toBe(false);
  });

  it('returns false, never throws, on malformed hashes or inputs', () => {
    const secret = generateSecret();
    const hex = hashSecret(secret).slice('sha256:'.length);
    const garbage = [
      '',
      'sha256:',
      `sha256:${hex.slice(1)}`,
      `sha256:${hex}0`,
      `sha256:${hex.toUpperCase()}`,
      `scrypt:${hex}`,
      hex,
      `sha256:${'z'.repeat(64)}`,
    ];
    for (const hash of garbage) expect(verifySecret(secret, hash), hash).toBe(false);
    // Callers from plain JavaScript (or a broken packet) can hand over anything.
    expect(verifySecret(null as unknown as string, hashSecret(secret))).toBe(false);
    expect(verifySecret(42 as unknown as string, hashSecret(secret))).toBe(false);
    expect(verifySecret(secret, undefined as unknown as string)).toBe(false);
  });
});
