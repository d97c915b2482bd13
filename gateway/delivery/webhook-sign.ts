import { createHmac, timingSafeEqual } from 'node:crypto';

// Webhook signatures (issue 5 item 5: "JSON POST signed with HMAC-SHA256"), in Stripe's layout so receivers can
// reuse what they know: `X-Tryggheim-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
// The timestamp is inside the MAC, so a receiver that rejects old timestamps also rejects replays. `v1` names
// the scheme: a later scheme can be sent beside it while receivers migrate.

export const SIGNATURE_HEADER = 'X-Tryggheim-Signature';

/** How far a signature's timestamp may be from the receiver's clock by default (Stripe's default, too). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function mac(secret: string, unixSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
}

/** The header value for `body` (the exact bytes sent) signed at `unixSeconds`. */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${mac(secret, unixSeconds, body)}`;
}

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * What a receiver does (a TypeScript receiver may import this): parse the header, reject a timestamp outside the
 * tolerance, compare the MAC in constant time. `body` must be the raw request body, before any JSON parsing.
 */
export function verifySignature(input: {
  secret: string;
  body: string;
  header: string | undefined;
  nowSeconds: number;
  toleranceSeconds?: number;
}): SignatureCheck {
  const parts = new Map<string, string[]>();
  for (const item of (input.header ?? '').split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq).trim();
    parts.set(key, [...(parts.get(key) ?? []), item.slice(eq + 1).trim()]);
  }
  const t = parts.get('t')?.[0];
  const candidates = parts.get('v1') ?? [];
  if (t === undefined || !/^\d{1,12}$/.test(t) || candidates.length === 0) return { ok: false, reason: 'malformed' };
  const timestamp = Number(t);
  if (Math.abs(input.nowSeconds - timestamp) > (input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(mac(input.secret, timestamp, input.body), 'hex');
  const match = candidates.some((c) => {
    const got = Buffer.from(c, 'hex');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
  return match ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' };
}
