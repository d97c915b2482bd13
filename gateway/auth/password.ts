import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/*
 * Passwords are chosen and remembered by people, so unlike device secrets (gateway/devices/secrets.ts, one
 * SHA-256 of a 256-bit token) they get a slow, memory-hard KDF: scrypt from node:crypto, a per-user random salt,
 * and the parameters stored in the hash string so they can be raised later without invalidating old hashes.
 *
 * Format (PHC string format): `$scrypt$ln=15,r=8,p=3$<salt base64>$<hash base64>`, unpadded base64.
 *
 * Cost: OWASP's Password Storage Cheat Sheet lists N=2^17,r=8,p=1 and the equivalent N=2^15,r=8,p=3. We take the
 * latter: the same work with a quarter of the memory (32 MiB instead of 128 MiB per hash) on a gateway that also
 * runs the broker. It runs on libuv's thread pool (async scrypt), never on the main thread, and at most
 * MAX_CONCURRENT hashes run at once so a burst of logins cannot take every pool thread from the broker's
 * persistence or the journal.
 */

export interface ScryptParams {
  /** log2 of N, the CPU/memory cost. */
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { ln: 15, r: 8, p: 3 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const MAX_CONCURRENT = 2;
// A stored hash is trusted data, but a corrupted one must not make verify allocate gigabytes.
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;
const HASH_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,64})\$([A-Za-z0-9+/]{32,128})$/;

let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await fn();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

function derive(password: string, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  const options: ScryptOptions = {
    N: 2 ** params.ln,
    r: params.r,
    p: params.p,
    // scrypt needs 128·N·r bytes; node refuses anything above maxmem (32 MiB by default, exactly our need).
    maxmem: 2 * 128 * 2 ** params.ln * params.r,
  };
  // NIST SP 800-63B: normalise Unicode so the same passphrase typed on a phone and a PC hashes the same.
  const bytes = Buffer.from(password.normalize('NFKC'), 'utf8');
  return limited(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scrypt(bytes, salt, keyLength, options, (err, key) => {
          if (err) reject(err);
          else resolve(key);
        });
      }),
  );
}

function inRange(params: ScryptParams): boolean {
  return (['ln', 'r', 'p'] as const).every((k) => Number.isInteger(params[k]) && params[k] >= LIMITS[k][0] && params[k] <= LIMITS[k][1]);
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  if (!inRange(params)) throw new Error(`scrypt parameters out of range: ${JSON.stringify(params)}`);
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params, KEY_BYTES);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/** Constant-time comparison of the derived key. False (never an exception) for a hash it cannot read. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH_PATTERN.exec(stored);
  if (m === null) return false;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (!inRange(params)) return false;
  const salt = Buffer.from(m[4] ?? '', 'base64');
  const expected = Buffer.from(m[5] ?? '', 'base64');
  try {
    const key = await derive(password, salt, params, expected.length);
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}

/** The parameters a stored hash was made with (to tell when it should be re-hashed), or undefined. */
export function paramsOf(stored: string): ScryptParams | undefined {
  const m = HASH_PATTERN.exec(stored);
  return m === null ? undefined : { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
}

// No 0/o, 1/l/i: read aloud or copied from paper on a phone without mistakes.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** An initial password: four groups of five (`k3m9x-2abq7-…`), 23 characters, about 99 bits. */
export function generatePassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < 4; g++) {
    let group = '';
    for (let i = 0; i < 5; i++) group += ALPHABET.charAt(randomInt(ALPHABET.length));
    groups.push(group);
  }
  return groups.join('-');
}
