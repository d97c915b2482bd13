import { afterEach, describe, expect, it } from 'vitest';
import { createAlertStore } from '../../../gateway/alerts/store.js';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import { systemClock, type GatewayClock } from '../../../gateway/clock.js';
import { openDatabase } from '../../../gateway/db/sqlite.js';
import { createOutboxNotifier, type OutboxNotifier, type OutboxSource } from '../../../gateway/delivery/channel.js';
import {
  WebhookConfigSchema,
  createWebhookChannel,
  idempotencyKey,
  type WebhookChannel,
  type WebhookConfigInput,
} from '../../../gateway/delivery/webhook.js';
import { signatureHeader, verifySignature } from '../../../gateway/delivery/webhook-sign.js';
import { virtualClock } from '../../../simulators/clock.js';
import { MIN, T0, recordingLogger, setupStore, startReceiver, until, type Receiver, type StoreSetup } from './support.js';

// The webhook channel (issue 5 item 5) against a real HTTP receiver on loopback and a real SQLite alert store:
// signed, ordered, store-once delivery; nothing marked delivered without a 2xx; a technical alert when it keeps
// failing; routing per team and severity; a restart resumes with the same idempotency key.

const SECRET = 'synthetic-webhook-secret-0123456789abcdef';
const FAST = { timeoutMs: 2000, retry: { initialMs: 20, maxMs: 100, jitter: 0.2 } };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  // Reverse order: channels before receivers before databases.
  for (const c of cleanups.reverse()) await c();
  cleanups.length = 0;
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver(SECRET);
  cleanups.push(() => r.close());
  return r;
}

function store(clock: GatewayClock): StoreSetup {
  const s = setupStore(() => clock.now());
  cleanups.push(() => s.close());
  return s;
}

function channel(
  config: Omit<WebhookConfigInput, 'secret'>,
  deps: { outbox: OutboxSource; notifier: OutboxNotifier; clock: GatewayClock; onHealth?: (s: AlertSignal) => void },
) {
  const logger = recordingLogger();
  const health: AlertSignal[] = [];
  const ch: WebhookChannel = createWebhookChannel(
    { secret: SECRET, ...config },
    {
      ...deps,
      logger,
      pollMs: 200,
      onHealth: (s) => {
        health.push(s);
        deps.onHealth?.(s);
      },
    },
  );
  cleanups.push(() => ch.close());
  ch.start();
  return { ch, logger, health };
}

const payloadOf = (body: unknown) =>
  body as {
    schemaVersion: number;
    type: string;
    outboxId: number;
    transition: { type: string; teamId: string };
    alert: { ackNote: string | null };
  };

describe('webhook channel', () => {
  it('delivers signed, verifiable POSTs in outbox order and marks delivered only after the 2xx', async () => {
    const clock = systemClock();
    const s = store(clock);
    const r = await receiver();
    let release = (): void => undefined;
    r.behaviour = { gate: new Promise<void>((resolve) => (release = resolve)) };
    const url = r.url.replace('http://', 'http://svc-north:p%40ss-synthetic@');
    const { ch, logger } = channel({ id: 'north', url, ...FAST }, { outbox: s.store, notifier: s.notifier, clock });
    expect(ch.name).toBe('webhook-north');

    s.apply(s.signal());
    await until(() => r.seen.length === 1, 'the first POST');
    // The receiver has it but has not answered: still pending.
    expect(s.store.pendingOutbox(ch.name).map((e) => e.id)).toEqual([1]);
    expect(ch.stats().delivered).toBe(0);

    const [alert] = s.store.list();
    s.store.acknowledge(alert?.id ?? '', { by: 'nurse-0001', note: 'synthetic note' });
    for (let i = 0; i < 5; i++) s.apply(s.signal({ homeId: 'home-0002', rule: 'smoke', subject: `smoke-${i}`, title: 'Smoke' }));
    s.notifier.notify();
    release();
    await until(() => s.store.pendingOutbox(ch.name).length === 0, 'everything delivered');

    const ids = s.store.outboxSince(0).map((e) => e.id);
    expect(ids).toHaveLength(7);
    expect(r.stored.map((x) => x.key)).toEqual(ids.map(idempotencyKey));
    expect(r.stored.map((x) => payloadOf(x.body).outboxId)).toEqual(ids);
    expect(r.seen).toHaveLength(7);
    expect(r.seen.every((x) => x.signatureOk)).toBe(true);

    const first = r.seen[0];
    expect(first?.headers['content-type']).toBe('application/json');
    expect(first?.headers['user-agent']).toBe('tryggheim');
    expect(first?.headers.authorization).toBe(`Basic ${Buffer.from('svc-north:p@ss-synthetic').toString('base64')}`);
    expect(
      verifySignature({
        secret: SECRET,
        body: first?.body ?? '',
        header: first?.headers['x-tryggheim-signature'] as string,
        nowSeconds: Date.now() / 1000,
      }),
    ).toMatchObject({ ok: true });
    const [raised, acked] = r.stored.map((x) => payloadOf(x.body));
    expect(raised).toMatchObject({
      schemaVersion: 1,
      type: 'alert.transition',
      outboxId: 1,
      transition: { type: 'raised', teamId: 'team-north' },
    });
    // Nurses' notes reach the home service (they never reach the log: checked below).
    expect(acked).toMatchObject({ transition: { type: 'acknowledged' }, alert: { ackNote: 'synthetic note' } });

    expect(ch.stats()).toMatchObject({ delivered: 7, notRouted: 0, failures: 0, failingSince: null, lastError: null });
    const logged = logger.text();
    for (const secret of [SECRET, 'p@ss-synthetic', 'p%40ss-synthetic', 'synthetic note']) expect(logged).not.toContain(secret);
  }, 20_000);

  it('survives 500s, a 4xx, a receiver that stores then hangs, and one that hangs: every transition stored once, in order', async () => {
    const clock = systemClock();
    const s = store(clock);
    const r = await receiver();
    r.behaviour = { status: 500 };
    const { ch, logger } = channel({ id: 'south', url: r.url, ...FAST, timeoutMs: 300 }, { outbox: s.store, notifier: s.notifier, clock });

    s.apply(s.signal());
    s.apply(s.signal({ homeId: 'home-0002', rule: 'water-leak', subject: 'leak-0001', title: 'Water leak', severity: 'high' }));
    await until(() => r.seen.length >= 4, 'a few 500s');
    // Order is kept: the head is retried, nothing after it is tried.
    expect(new Set(r.seen.map((x) => x.key))).toEqual(new Set([idempotencyKey(1)]));
    expect(ch.stats().lastError).toBe('HTTP 500');

    r.behaviour = { status: 400 };
    await until(() => ch.stats().lastError === 'HTTP 400', 'a 4xx');
    s.apply(s.signal({ action: 'clear' }));

    // Stored, but the answer never comes: the channel times out and sends the same key again.
    r.behaviour = 'store-then-hang';
    await until(() => ch.stats().lastError?.startsWith('timeout') === true, 'a timeout after storing');
    r.behaviour = 'hang';
    const hung = r.seen.length;
    await until(() => r.seen.length > hung + 1, 'another timeout');
    s.apply(s.signal({ homeId: 'home-0002', rule: 'smoke', subject: 'smoke-0001', title: 'Smoke' }));

    r.behaviour = 'ok';
    await until(() => s.store.pendingOutbox(ch.name).length === 0, 'recovery delivers everything');

    const ids = s.store.outboxSince(0).map((e) => e.id);
    expect(ids).toHaveLength(4);
    // Nothing missing, nothing stored twice, in order.
    expect(r.stored.map((x) => x.key)).toEqual(ids.map(idempotencyKey));
    // The channel never re-sent a key after a 2xx for it.
    expect([...r.accepted.values()].every((n) => n === 1)).toBe(true);
    expect([...r.accepted.keys()].sort()).toEqual(ids.map(idempotencyKey).sort());
    // The receiver did see retries of the first key, each with the same body.
    const firstTries = r.seen.filter((x) => x.key === idempotencyKey(1));
    expect(firstTries.length).toBeGreaterThan(6);
    expect(new Set(firstTries.map((x) => x.body)).size).toBe(1);

    expect(ch.stats()).toMatchObject({ delivered: 4, failingSince: null });
    expect(ch.stats().failures).toBeGreaterThanOrEqual(r.seen.length - 4);
    const events = logger.lines.map((l) => `${l.level}:${(l.obj as { event: string }).event}`);
    expect(events).toEqual(
      expect.arrayContaining(['warn:webhook.unavailable', 'error:webhook.rejected', 'warn:webhook.timeout', 'info:webhook.recovered']),
    );
    // One line per change of failure, not one per retry.
    expect(logger.lines.length).toBeLessThan(10);
    expect(logger.text()).not.toContain(SECRET);
  }, 25_000);

  it('failing longer than failAlertAfterMinutes raises exactly one gateway-health alert, and recovery clears it (fake clock)', async () => {
    const clock = virtualClock(T0);
    const s = store(clock);
    const r = await receiver();
    r.behaviour = { status: 503 };
    const { ch, health, logger } = channel(
      { id: 'north', url: r.url, ...FAST, failAlertAfterMinutes: 5 },
      { outbox: s.store, notifier: s.notifier, clock, onHealth: (sig) => s.apply(sig) },
    );

    s.apply(s.signal());
    await until(() => ch.stats().failures >= 2, 'failures');
    expect(ch.stats().failingSince).toBe(new Date(T0).toISOString());
    clock.advanceBy(4 * MIN);
    const seen = r.seen.length;
    await until(() => r.seen.length > seen + 2, 'more retries');
    expect(health).toEqual([]);

    clock.advanceBy(1 * MIN);
    expect(health).toHaveLength(1);
    expect(health[0]).toMatchObject({
      action: 'raise',
      rule: 'gateway-health',
      homeId: null,
      subject: 'webhook:north',
      severity: 'high',
      kind: 'technical',
      title: 'Webhook delivery failing',
      at: T0 + 5 * MIN,
    });
    expect(health[0]?.evidence[0]?.note).toBe('no 2xx for 5 min; last: HTTP 503');
    // The technical alert is in the store for the ops team, for the other channels to deliver.
    const [techAlert] = s.store.list({ teamId: 'ops' });
    expect(techAlert).toMatchObject({ rule: 'gateway-health', subject: 'webhook:north', state: 'active' });

    // Still failing, much later: no second raise.
    const more = r.seen.length;
    await until(() => r.seen.length > more + 2, 'retries after the raise');
    clock.advanceBy(30 * MIN);
    await until(() => r.seen.length > more + 4, 'retries after 30 more minutes');
    expect(health).toHaveLength(1);

    r.behaviour = 'ok';
    await until(() => s.store.pendingOutbox(ch.name).length === 0, 'recovery');
    expect(health.map((h) => h.action)).toEqual(['raise', 'clear']);
    expect(health[1]).toMatchObject({ subject: 'webhook:north', rule: 'gateway-health', homeId: null });
    expect(s.store.get(techAlert?.id ?? '')?.state).toBe('cleared');
    // This webhook carries every team, so its own health alert reached it too, after the fall.
    expect(r.stored.map((x) => payloadOf(x.body).transition.type)).toEqual(['raised', 'raised', 'cleared']);
    expect(ch.stats().failingSince).toBeNull();
    expect(logger.lines.some((l) => (l.obj as { event: string }).event === 'webhook.failing' && l.level === 'error')).toBe(true);

    await ch.close();
    // The health deadline was cancelled: nothing is left on the clock.
    expect(clock.pending()).toBe(0);
    expect(JSON.stringify(health)).not.toContain(r.url);
  }, 25_000);

  it('routes per team and severity: team-north/high neither sends team-south nor low alerts, and marks them as not for it', async () => {
    const clock = systemClock();
    const s = store(clock);
    const r = await receiver();
    const { ch } = channel(
      { id: 'north-urgent', url: r.url, ...FAST, route: { teams: ['team-north'], minSeverity: 'high' } },
      { outbox: s.store, notifier: s.notifier, clock },
    );
    // Another channel configured alongside it (the gateway opens every configured channel at start).
    s.store.openOutboxCursors(['webhook-other']);

    s.apply(s.signal({ homeId: 'home-0002', rule: 'fall', subject: 'sensor-0002' })); // south, critical
    s.apply(s.signal({ rule: 'low-battery', subject: 'sensor-0001', severity: 'low', kind: 'technical', title: 'Low battery' })); // north, low
    s.apply(
      s.signal({ rule: 'gateway-health', homeId: null, subject: 'journal', severity: 'critical', kind: 'technical', title: 'Journal' }),
    ); // ops
    s.apply(s.signal({ rule: 'door-night', subject: 'door', severity: 'high', kind: 'care', title: 'Door open at night' })); // north, high
    s.apply(s.signal({ rule: 'inactivity', subject: 'home', severity: 'medium', title: 'Inactive' })); // north, medium
    s.apply(s.signal()); // north, critical

    await until(() => s.store.pendingOutbox(ch.name).length === 0, 'every entry handled');
    const entries = s.store.outboxSince(0);
    expect(entries).toHaveLength(6);
    const carried = entries.filter((e) => e.teamId === 'team-north' && (e.severity === 'critical' || e.severity === 'high'));
    expect(r.stored.map((x) => x.key)).toEqual(carried.map((e) => idempotencyKey(e.id)));
    expect(r.seen).toHaveLength(2);
    expect(ch.stats()).toMatchObject({ delivered: 2, notRouted: 4, failures: 0 });
    // Marked for this channel only: another channel still has all of them pending.
    expect(s.store.pendingOutbox('webhook-other')).toHaveLength(6);
  }, 20_000);

  it('a restart resumes with the pending entry and the same idempotency key; close aborts the request in flight', async () => {
    const clock = systemClock();
    const s = store(clock);
    const r = await receiver();
    r.behaviour = 'hang';
    const config = { id: 'north', url: r.url, ...FAST, timeoutMs: 10_000 };
    const first = channel(config, { outbox: s.store, notifier: s.notifier, clock });

    s.apply(s.signal());
    await until(() => r.seen.length === 1, 'the request in flight');
    const started = Date.now();
    await first.ch.close();
    // Aborted, not waited out (timeoutMs is 10 s).
    expect(Date.now() - started).toBeLessThan(5000);
    expect(s.store.pendingOutbox(first.ch.name).map((e) => e.id)).toEqual([1]);
    // Closing is not a receiver failure.
    expect(first.ch.stats()).toMatchObject({ delivered: 0, failures: 0 });

    // A new process: its own connection to the same database file, its own notifier.
    r.behaviour = 'ok';
    const db = openDatabase(s.path);
    cleanups.push(() => db.close());
    const store2 = createAlertStore({ db, now: () => clock.now() });
    const second = channel(config, { outbox: store2, notifier: createOutboxNotifier(), clock });
    await until(() => store2.pendingOutbox(second.ch.name).length === 0, 'the pending entry delivered after the restart');

    expect(r.seen.map((x) => x.key)).toEqual([idempotencyKey(1), idempotencyKey(1)]);
    expect(r.seen[1]?.body).toBe(r.seen[0]?.body);
    expect(r.stored).toHaveLength(1);
    expect(second.ch.stats()).toMatchObject({ delivered: 1, failures: 0 });
    // Its first success clears a health alert an earlier process may have left (a no-op when there is none).
    expect(second.health.map((h) => h.action)).toEqual(['clear']);
  }, 20_000);
});

describe('webhook channel and its outbox', () => {
  it('an outbox that cannot be read is logged once, and delivery goes on when it can', async () => {
    const clock = systemClock();
    const s = store(clock);
    const r = await receiver();
    let broken = 3;
    const outbox: OutboxSource = {
      pendingOutbox: (ch, limit) => {
        if (broken-- > 0) throw new Error('synthetic storage failure');
        return s.store.pendingOutbox(ch, limit);
      },
      markDelivered: (ch, ids) => s.store.markDelivered(ch, ids),
    };
    // Configured before the alert (the gateway opens its channels at start): the alert is pending for it.
    s.store.openOutboxCursors(['webhook-north']);
    s.apply(s.signal());
    const { ch, logger } = channel({ id: 'north', url: r.url, ...FAST }, { outbox, notifier: s.notifier, clock });
    await until(() => s.store.pendingOutbox(ch.name).length === 0, 'delivered after the outbox recovers', 5000);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => (l.obj as { event: string }).event)).toEqual(['webhook.loop_failed']);
    expect(r.stored).toHaveLength(1);
    // A storage failure is not the receiver failing.
    expect(ch.stats()).toMatchObject({ delivered: 1, failures: 0, failingSince: null });
  }, 10_000);
});

describe('webhook config and signature', () => {
  const base = { id: 'north', url: 'https://hooks.example.invalid/tryggheim', secret: SECRET };

  it('validates the config and fills defaults', () => {
    expect(WebhookConfigSchema.parse(base)).toEqual({
      ...base,
      route: { teams: '*', minSeverity: 'low' },
      timeoutMs: 10_000,
      retry: { initialMs: 1000, maxMs: 60_000, jitter: 0.2 },
      failAlertAfterMinutes: 5,
    });
    const bad = (over: object) => WebhookConfigSchema.safeParse({ ...base, ...over }).success;
    expect(bad({ secret: 'too-short' })).toBe(false);
    expect(bad({ url: 'ftp://hooks.example.invalid/' })).toBe(false);
    expect(bad({ url: 'not a url' })).toBe(false);
    expect(bad({ id: 'North' })).toBe(false);
    expect(bad({ id: 'x'.repeat(57) })).toBe(false);
    expect(bad({ id: 'x'.repeat(56) })).toBe(true);
    expect(bad({ retry: { initialMs: 5000, maxMs: 1000 } })).toBe(false);
    expect(bad({ unknown: true })).toBe(false);
    // A rejected secret is not echoed in the error.
    const err = WebhookConfigSchema.safeParse({ ...base, secret: 'short-secret-value' }).error;
    expect(JSON.stringify(err?.issues)).not.toContain('short-secret-value');
  });

  it('verifySignature accepts the signature and rejects stale, tampered and malformed ones', () => {
    const body = '{"a":1}';
    const t = 1_800_000_000;
    const header = signatureHeader(SECRET, body, t);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature({ secret: SECRET, body, header, nowSeconds: t + 10 })).toEqual({ ok: true, timestamp: t });
    expect(verifySignature({ secret: SECRET, body, header, nowSeconds: t + 301 })).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature({ secret: SECRET, body: '{"a":2}', header, nowSeconds: t })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature({ secret: `${SECRET}x`, body, header, nowSeconds: t })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature({ secret: SECRET, body, header: undefined, nowSeconds: t })).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature({ secret: SECRET, body, header: `t=${t}`, nowSeconds: t })).toEqual({ ok: false, reason: 'malformed' });
  });
});
