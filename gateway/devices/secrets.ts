import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Device secrets are 256-bit random tokens that Tryggheim generates; nobody chooses or remembers them.
 * A slow KDF (scrypt, argon2) only buys time against guessing low-entropy passwords; against 2^256
 * candidates it adds nothing, while it would cost ~50 ms of CPU per CONNECT — minutes of reconnect storm
 * for 10,000 devices after a restart. One SHA-256 is enough. See gateway/devices/README.md.
 */

export const SECRET_PREFIX = 'tgs_';
const SECRET_BYTES = 32;
// `tgs_` + 43 base64url characters (32 bytes, unpadded). The prefix makes a leaked secret greppable.
const SECRET_PATTERN = /^tgs_[A-Za-z0-9_-]{43}$/;
const HASH_PATTERN = /^sha256:([0-9a-f]{64})$/;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
}

/**
 * `sha256:` + hex digest. Only for secrets from generateSecret(): hashing a human-chosen password this way
 * would be weak, so anything else is refused as a programming error.
 */
export function hashSecret(secret: string): string {
  if (!SECRET_PATTERN.test(secret)) {
    throw new Error('hashSecret only accepts secrets made by generateSecret()');
  }
  return `sha256:${digest(Buffer.from(secret, 'utf8')).toString('hex')}`;
}

/** Constant-time check of a presented secret (an MQTT password arrives as a Buffer). Never throws. */
export function verifySecret(secret: string | Buffer, hash: string): boolean {
  try {
    if (typeof hash !== 'string') return false;
    const match = HASH_PATTERN.exec(hash);
    const hex = match?.[1];
    if (hex === undefined) return false;
    let presented: Buffer;
    if (typeof secret === 'string') presented = Buffer.from(secret, 'utf8');
    else if (Buffer.isBuffer(secret)) presented = secret;
    else return false;
    // Both sides are 32-byte digests, so timingSafeEqual's equal-length requirement always holds and the
    // presented secret's length does not leak through an early return.
    return timingSafeEqual(digest(presented), Buffer.from(hex, 'hex'));
  } catch {
    return false;
  }
}

function digest(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}
