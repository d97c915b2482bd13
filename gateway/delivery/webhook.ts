import { z } from 'zod';
import { ChannelSchema, type Alert, type AlertTransition, type OutboxEntry } from '../alerts/model.js';
import type { AlertSignal } from '../alerts/signal.js';
import type { GatewayClock } from '../clock.js';
import {
  RouteSchema,
  routes,
  type ChannelStats,
  type DeliveryChannel,
  type HealthSignalSink,
  type OutboxNotifier,
  type OutboxSource,
} from './channel.js';
import { postWebhook, requestTarget, type WebhookAttempt } from './webhook-attempt.js';

/*
 * Webhooks (issue 5 item 5): every alert transition a webhook's route carries is POSTed to the home service,
 * one transition per request, in outbox order. Nothing is marked delivered without a 2xx from the receiver.
 *
 * THE RECEIVER'S CONTRACT
 *
 *   POST <url>
 *   Content-Type: application/json
 *   User-Agent: tryggheim
 *   Idempotency-Key: tryggheim-outbox-<outbox id>
 *   X-Tryggheim-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 *   { "schemaVersion": 1, "type": "alert.transition", "outboxId": 42, "createdAt": "<ISO>",
 *     "transition": { …AlertTransition }, "alert": { …Alert, as it was right after the transition } }
 *
 * 1. Verify the signature on the RAW body bytes, before parsing: recompute the HMAC over "<t>.<body>" with the
 *    shared secret, compare in constant time, and reject a `t` more than 5 minutes from your clock (replays).
 *    gateway/delivery/webhook-sign.ts `verifySignature` does exactly this.
 * 2. Dedupe on Idempotency-Key. The same transition is sent again, with the same key and the same body (only the
 *    signature's `t` changes), whenever we did not see your 2xx: timeouts, lost connections, restarts. A key you
 *    have already stored must be answered 2xx without storing it twice.
 * 3. Reply 2xx only AFTER the transition is stored durably. Anything else (3xx included: redirects are not
 *    followed) means "not delivered" and is retried with backoff, for ever: we never skip a transition, so one
 *    that cannot be stored blocks the ones after it, in order, and the gateway raises a technical alert.
 * 4. Order: transitions arrive in outbox order (outboxId ascending, per gateway); a receiver that dedupes on the
 *    key and appends sees each one once, in order.
 *
 * The body holds no personal data beyond ids and nurses' notes (ackNote, resolveNote, transition.detail.note):
 * the receiver is the home service, which is entitled to them. The body and the secret are never logged.
 *
 * This file is the channel: config, the outbox loop, backoff and the health alert. One POST and how its answer
 * is classified is webhook-attempt.ts; the signature is webhook-sign.ts.
 */

const MINUTE = 60_000;
const BATCH = 100;

export const WEBHOOK_SCHEMA_VERSION = 1;

/** `webhook-${id}` must be a valid outbox channel name (ChannelSchema: at most 64 characters). */
const WebhookIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,55}$/, { error: "webhook id must be 1–56 characters: a-z, 0-9, '.', '_' or '-'" })
  .refine((id) => ChannelSchema.safeParse(channelName(id)).success, { error: 'webhook id does not make a valid channel name' });

export const WebhookConfigSchema = z.strictObject({
  id: WebhookIdSchema,
  /** http or https. Credentials in the URL (`https://user:pass@host/`) are sent as HTTP Basic auth, never logged. */
  url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }),
  /** The HMAC key shared with the receiver. Never logged. */
  secret: z.string().min(32, { error: 'secret must be at least 32 characters' }).max(1024),
  route: RouteSchema.prefault({}),
  /** A receiver that has not answered by then is abandoned (the attempt failed; the entry is retried). */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  retry: z
    .strictObject({
      initialMs: z.number().int().min(10).default(1000),
      /** Backoff cap: after a receiver recovers, delivery resumes within this long. */
      maxMs: z.number().int().min(10).default(60_000),
      /** Each delay is shortened by up to this fraction at random, so gateways don't retry in lockstep. */
      jitter: z.number().min(0).max(1).default(0.2),
    })
    .refine((r) => r.maxMs >= r.initialMs, { error: 'retry.maxMs must be at least retry.initialMs', path: ['maxMs'] })
    .prefault({}),
  /** Failing without a success this long (gateway clock) raises a gateway-health alert on the other channels. */
  failAlertAfterMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(5),
});
export type WebhookConfigInput = z.input<typeof WebhookConfigSchema>;
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;

export interface WebhookPayload {
  readonly schemaVersion: typeof WEBHOOK_SCHEMA_VERSION;
  readonly type: 'alert.transition';
  readonly outboxId: number;
  readonly createdAt: string;
  readonly transition: AlertTransition;
  readonly alert: Alert;
}

export interface WebhookLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WebhookDeps {
  readonly outbox: OutboxSource;
  readonly notifier: OutboxNotifier;
  /** Measures "failing for N minutes" (and stamps health signals). */
  readonly clock: GatewayClock;
  readonly onHealth: HealthSignalSink;
  readonly logger: WebhookLogger;
  /** Slow poll for outbox writers in other processes (the CLI). Default 5 s. */
  readonly pollMs?: number;
}

export interface WebhookStats extends ChannelStats {
  /** Entries marked delivered without sending because the route does not carry them. */
  readonly notRouted: number;
}

export interface WebhookChannel extends DeliveryChannel {
  stats(): WebhookStats;
}

export function channelName(id: string): string {
  return `webhook-${id}`;
}

/** Stable across retries and restarts: the receiver's dedupe key. */
export function idempotencyKey(outboxId: number): string {
  return `tryggheim-outbox-${outboxId}`;
}

/** The subject of this webhook's gateway-health alert. */
export function webhookHealthSubject(id: string): string {
  return `webhook:${id}`;
}

export function webhookPayload(entry: OutboxEntry): WebhookPayload {
  return {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    type: 'alert.transition',
    outboxId: entry.id,
    createdAt: entry.createdAt,
    transition: entry.transition,
    alert: entry.alert,
  };
}

export function createWebhookChannel(input: WebhookConfigInput, deps: WebhookDeps): WebhookChannel {
  const config = WebhookConfigSchema.parse(input);
  const { outbox, notifier, clock, onHealth, logger } = deps;
  const pollMs = deps.pollMs ?? 5000;
  const name = channelName(config.id);
  const subject = webhookHealthSubject(config.id);
  const target = requestTarget(config.url);
  const log = { channel: name };

  let started = false;
  let closed = false;
  let loop: Promise<void> | undefined;
  let inFlight: AbortController | undefined;
  /** Set by the notifier: something may have been committed since the last outbox read. */
  let dirty = true;
  let waiter: { wakeOnNotify: boolean; resolve: () => void } | undefined;

  let delivered = 0;
  let notRouted = 0;
  let failures = 0;
  let lastError: string | null = null;
  let failingSince: number | null = null;
  /** Retries of the entry at the head, for the backoff; reset by a success. */
  let attempt = 0;
  let lastLogged: string | null = null;
  let healthRaised = false;
  let healthTimer: { cancel(): void } | undefined;
  /** A raise left by an earlier process is cleared by this one's first success (a clear with nothing open is a no-op). */
  let clearOnSuccess = true;

  let unsubscribe = (): void => undefined;
  /** The last loop error logged, so a database that stays unreadable is one line, not one per poll. */
  let loopError: string | undefined;

  /**
   * Backoff, poll and request timeouts run on real time, not on the gateway clock: the receiver lives in real
   * time, and a virtual clock standing still in a simulation must not stall delivery. Only the "failing for N
   * minutes" measurement is gateway time.
   */
  function sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (waiter === w) waiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // A channel alone must not keep a stopping process alive; the gateway's servers do.
      timer.unref();
      const w = { wakeOnNotify, resolve: done };
      waiter = w;
    });
  }

  function health(action: 'raise' | 'clear', title: string, note?: string): void {
    const signal: AlertSignal = {
      action,
      rule: 'gateway-health',
      homeId: null,
      subject,
      severity: 'high',
      kind: 'technical',
      title,
      at: clock.now(),
      evidence: note === undefined ? [] : [{ note: note.slice(0, 200) }],
    };
    try {
      onHealth(signal);
    } catch (err) {
      // The sink must not throw; if it does, delivery goes on and the log says why the alert is missing.
      logger.error({ event: 'webhook.health_signal_failed', ...log, action, err }, 'could not report webhook health');
    }
  }

  function raiseIfStillFailing(): void {
    if (closed || healthRaised || failingSince === null) return;
    if (clock.now() - failingSince < config.failAlertAfterMinutes * MINUTE) return;
    healthRaised = true;
    healthTimer?.cancel();
    healthTimer = undefined;
    logger.error(
      { event: 'webhook.failing', ...log, minutes: config.failAlertAfterMinutes, failures, lastError },
      'webhook delivery failing; raising a gateway-health alert',
    );
    health('raise', 'Webhook delivery failing', `no 2xx for ${config.failAlertAfterMinutes} min; last: ${lastError ?? 'unknown'}`);
  }

  function noteFailure(a: Exclude<WebhookAttempt, { ok: true }>): void {
    failures++;
    lastError = a.detail;
    if (failingSince === null && !closed) {
      failingSince = clock.now();
      // On the gateway clock, so a simulation's virtual minutes count; also checked at each failure below.
      healthTimer = clock.setTimer(failingSince + config.failAlertAfterMinutes * MINUTE, raiseIfStillFailing);
    }
    // One line per change of failure, not per retry: a receiver down for an hour must not flood the log.
    if (a.detail !== lastLogged) {
      lastLogged = a.detail;
      const obj = { event: `webhook.${a.failure}`, ...log, error: a.detail, failures };
      if (a.failure === 'rejected' || a.failure === 'redirect') {
        logger.error(obj, 'webhook receiver refuses the request (check its URL, secret or configuration); retrying, never skipping');
      } else {
        logger.warn(obj, 'webhook delivery failed; retrying with backoff');
      }
    }
    raiseIfStillFailing();
  }

  function noteSuccess(): void {
    if (failingSince !== null) {
      logger.info({ event: 'webhook.recovered', ...log, failingForMs: clock.now() - failingSince, failures }, 'webhook delivery recovered');
    }
    healthTimer?.cancel();
    healthTimer = undefined;
    if (healthRaised || clearOnSuccess) health('clear', 'Webhook delivery recovered');
    healthRaised = false;
    clearOnSuccess = false;
    failingSince = null;
    lastLogged = null;
    attempt = 0;
  }

  function backoffMs(retryAfterMs: number | undefined): number {
    const { initialMs, maxMs, jitter } = config.retry;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
    const delay = base * (1 - jitter * Math.random());
    attempt++;
    return Math.min(maxMs, Math.max(delay, retryAfterMs ?? 0));
  }

  /** One POST of `entry` (webhook-attempt.ts); close() abandons it. */
  async function send(entry: OutboxEntry): Promise<WebhookAttempt> {
    const body = JSON.stringify(webhookPayload(entry));
    const controller = new AbortController();
    inFlight = controller;
    try {
      return await postWebhook(
        { target, secret: config.secret, idempotencyKey: idempotencyKey(entry.id), body, timeoutMs: config.timeoutMs },
        controller.signal,
      );
    } finally {
      inFlight = undefined;
    }
  }

  function markNotRouted(ids: number[]): void {
    if (ids.length === 0) return;
    outbox.markDelivered(name, ids);
    notRouted += ids.length;
    ids.length = 0;
  }

  /** One pass over the head of the outbox; false when nothing was pending. */
  async function step(): Promise<boolean> {
    dirty = false;
    const batch = outbox.pendingOutbox(name, BATCH);
    if (batch.length === 0) return false;
    const skipped: number[] = [];
    for (const entry of batch) {
      if (closed) return true;
      // Not this webhook's team or severity: marked delivered for this channel without sending, so the head of
      // its outbox moves on. A route widened later does not re-send these.
      if (!routes(config.route, entry)) {
        skipped.push(entry.id);
        continue;
      }
      markNotRouted(skipped);
      // A 2xx that arrives while closing still counts: the receiver has it.
      const result = await send(entry);
      if (!result.ok) {
        if (result.failure === 'closed') return true;
        noteFailure(result);
        // The same entry again after the backoff (the next step re-reads the head): order is kept, nothing skipped.
        await sleep(backoffMs(result.retryAfterMs), false);
        return true;
      }
      noteSuccess();
      outbox.markDelivered(name, [entry.id]);
      delivered++;
    }
    markNotRouted(skipped);
    return true;
  }

  async function run(): Promise<void> {
    while (!closed) {
      try {
        const more = await step();
        loopError = undefined;
        if (!more && !dirty) await sleep(pollMs, true);
      } catch (err) {
        // A storage error or a bug: logged, and the loop goes on after a pause. It never dies silently.
        const message = err instanceof Error ? err.message : String(err);
        if (message !== loopError) logger.error({ event: 'webhook.loop_failed', ...log, err }, 'webhook delivery loop failed; retrying');
        loopError = message;
        await sleep(pollMs, false);
      }
    }
  }

  return {
    name,
    start() {
      if (started || closed) return;
      started = true;
      unsubscribe = notifier.subscribe(() => {
        dirty = true;
        if (waiter?.wakeOnNotify) waiter.resolve();
      });
      loop = run();
    },
    async close() {
      if (closed) return loop;
      closed = true;
      unsubscribe();
      healthTimer?.cancel();
      healthTimer = undefined;
      inFlight?.abort();
      waiter?.resolve();
      await loop;
    },
    stats: () => ({
      delivered,
      notRouted,
      failures,
      failingSince: failingSince === null ? null : new Date(failingSince).toISOString(),
      lastError,
    }),
  };
}
