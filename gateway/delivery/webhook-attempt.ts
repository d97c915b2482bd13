import { SIGNATURE_HEADER, signatureHeader } from './webhook-sign.js';

// One webhook delivery attempt over HTTP: POST one signed body to the receiver and classify its answer (2xx,
// unavailable, rejected, redirect, timeout, connection error). What to send, when to retry and when to raise
// the health alert is the channel's business (webhook.ts); this module holds no state between attempts.

/** How an attempt ended. `detail` is short, and holds no URL, body or secret: it goes to logs, stats and alerts. */
export type WebhookAttempt =
  | { ok: true; status: number }
  | { ok: false; failure: 'unavailable' | 'rejected' | 'redirect' | 'timeout' | 'network'; detail: string; retryAfterMs?: number }
  | { ok: false; failure: 'closed'; detail: string };

/** Where the POST goes: the configured URL without credentials, and those credentials as a Basic header. */
export interface WebhookTarget {
  readonly url: string;
  readonly authorization?: string;
}

export interface WebhookRequest {
  readonly target: WebhookTarget;
  /** The HMAC key shared with the receiver. Never logged. */
  readonly secret: string;
  readonly idempotencyKey: string;
  /** The exact bytes sent, and signed. Never logged. */
  readonly body: string;
  readonly timeoutMs: number;
}

/** fetch refuses URLs with credentials: they become a Basic Authorization header, and the URL is sent without them. */
export function requestTarget(raw: string): WebhookTarget {
  const url = new URL(raw);
  if (url.username === '' && url.password === '') return { url: url.href };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return { url: url.href, authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` };
}

/**
 * Sends `request` once. `cancel` is aborted when the channel closes: the request is abandoned and the attempt
 * ends as `closed`. Never throws: every outcome is a `WebhookAttempt`.
 */
export async function postWebhook(request: WebhookRequest, cancel: AbortSignal): Promise<WebhookAttempt> {
  const { target, body } = request;
  const timeout = AbortSignal.timeout(request.timeoutMs);
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'tryggheim',
        'Idempotency-Key': request.idempotencyKey,
        // Wall-clock seconds, not the gateway clock: the receiver checks them against its own clock.
        [SIGNATURE_HEADER]: signatureHeader(request.secret, body, Math.floor(Date.now() / 1000)),
        ...(target.authorization === undefined ? {} : { Authorization: target.authorization }),
      },
      body,
      // Following a redirect would re-POST the signed body to wherever the receiver points; a moved receiver is
      // a configuration error to fix, not to follow.
      redirect: 'manual',
      signal: AbortSignal.any([cancel, timeout]),
    });
    // The status is all we need; drop the body so the connection is released.
    await res.body?.cancel().catch(() => undefined);
    const { status } = res;
    if (status >= 200 && status < 300) return { ok: true, status };
    const detail = `HTTP ${status}`;
    if (status >= 300 && status < 400) return { ok: false, failure: 'redirect', detail: `${detail} (redirect not followed)` };
    if (status === 408 || status === 429 || status >= 500) {
      return { ok: false, failure: 'unavailable', detail, retryAfterMs: retryAfter(res.headers.get('retry-after')) };
    }
    // Other 4xx: the receiver (or our config) is wrong. Still retried: a misconfiguration must not lose alerts.
    return { ok: false, failure: 'rejected', detail };
  } catch (err) {
    if (cancel.aborted) return { ok: false, failure: 'closed', detail: 'channel closed' };
    if (timeout.aborted) return { ok: false, failure: 'timeout', detail: `timeout after ${request.timeoutMs} ms` };
    return { ok: false, failure: 'network', detail: `connection error ${networkCode(err)}` };
  }
}

/** Retry-After in seconds (the HTTP-date form is rare for webhooks and falls back to our backoff). */
function retryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d{1,6}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/** The error class only (ECONNREFUSED, ENOTFOUND…): undici's messages may name the host and port. */
function networkCode(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? code : 'unknown';
}
