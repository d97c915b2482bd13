import type { MqttClient } from 'mqtt';
import { connectClient, reasonOf } from './mqtt-connect.js';
import { recordActions } from './recording.js';
import type { PlayedMessage, PlayOptions, PlayProgress, PlaySink, PlaySummary, PublishAction } from './play-types.js';
import { statusTopic, type Action, type ClientKind } from './types.js';

export type { PlayedMessage, PlayOptions, PlayProgress, PlaySink, PlaySummary, PublishAction };

// Plays one time-ordered Action stream over MQTT (README.md "One stream, one player"): scenarios, recordings
// and hand-built lists all come through here. One mqtt.js client per MQTT client id, each with its own lane:
// a lane runs its client's actions strictly in order, lanes run side by side, and the stream is read only
// as fast as the clock allows and the lanes keep up (bounded queues, bounded in-flight publishes).
//
// mqtt.js runs with reconnectPeriod 0 and the player reconnects itself: with its own reconnect, mqtt.js 5.16
// fails the publishes it had queued with "Connection closed" when a reconnect fails, and nothing resends
// them. Here every publish stays in the lane's `unacked` map until its PUBACK; whatever was not acked when a
// connection went away is resent, first and in order, on the client's next connection (counted as retried).

interface Entry {
  readonly seq: number;
  readonly action: PublishAction;
  /** The player's own status publishes (`online`, `offline`): not counted as the stream's publishes. */
  readonly internal: boolean;
  /** Sends charged against publishAttempts. */
  attempts: number;
  sends: number;
  sentAt: number;
}

interface Lane {
  readonly id: string;
  readonly kind: ClientKind;
  client: MqttClient | undefined;
  up: boolean;
  refused: string | undefined;
  readonly queue: Action[];
  /** Unacked publishes of a lost connection, resent first on the next one. Sorted by seq. */
  readonly retry: Entry[];
  readonly unacked: Map<number, Entry>;
  /** After a lost connection: resend one at a time, so a publish the broker refuses is the one charged. */
  probing: boolean;
  running: boolean;
  waiters: (() => void)[];
}

const isUp = (lane: Lane): boolean => lane.up;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const wallNow = (): number => performance.now();

function percentile(sorted: Float64Array, p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? 0;
}

export async function play(actions: Iterable<Action> | AsyncIterable<Action>, opts: PlayOptions): Promise<PlaySummary> {
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 32);
  const maxQueued = Math.max(1, opts.maxQueued ?? 10_000);
  const connectAttempts = Math.max(1, opts.connectAttempts ?? 5);
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const publishAttempts = Math.max(1, opts.publishAttempts ?? 3);
  const ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
  const lanes = new Map<string, Lane>();
  const c = { actions: 0, published: 0, acknowledged: 0, qos0: 0, retried: 0, failed: 0, skipped: 0, queued: 0, inFlight: 0 };
  const errors: Record<string, number> = {};
  const refused: { client: string; reason: string }[] = [];
  let latencies = new Float64Array(1024);
  let latencyCount = 0;
  let seq = 0;
  let lastAt = 0;
  let globalWaiters: (() => void)[] = [];
  /** Set when play() is leaving (done, or the stream threw): lanes stop reconnecting. */
  let stopping = false;
  const count = (reason: string): void => {
    errors[reason] = (errors[reason] ?? 0) + 1;
  };

  const wakeAll = (): void => {
    const w = globalWaiters;
    globalWaiters = [];
    for (const f of w) f();
  };
  const wake = (lane: Lane): void => {
    const w = lane.waiters;
    lane.waiters = [];
    for (const f of w) f();
    wakeAll();
  };
  /** Waits until `cond` holds, re-checked on every change; false when `timeoutMs` passed first. */
  const until = async (cond: () => boolean, lane?: Lane, timeoutMs = Infinity): Promise<boolean> => {
    const deadline = wallNow() + timeoutMs;
    while (!cond()) {
      const left = deadline - wallNow();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = Number.isFinite(left) ? setTimeout(resolve, left) : undefined;
        const done = (): void => {
          if (t !== undefined) clearTimeout(t);
          resolve();
        };
        if (lane) lane.waiters.push(done);
        else globalWaiters.push(done);
      });
    }
    return true;
  };

  const laneFor = (id: string): Lane => {
    let lane = lanes.get(id);
    if (lane === undefined) {
      const kind = opts.kinds?.[id] ?? 'device';
      lane = {
        id,
        kind,
        client: undefined,
        up: false,
        refused: undefined,
        queue: [],
        retry: [],
        unacked: new Map(),
        probing: false,
        running: false,
        waiters: [],
      };
      lanes.set(id, lane);
    }
    return lane;
  };

  const statusEntry = (lane: Lane, at: number, payload: 'online' | 'offline'): Entry => ({
    seq: seq++,
    action: {
      at,
      client: lane.id,
      op: 'publish',
      topic: statusTopic(lane.id, lane.kind),
      payload: Buffer.from(payload),
      qos: 1,
      retain: true,
    },
    internal: true,
    attempts: 0,
    sends: 0,
    sentAt: 0,
  });

  function lost(lane: Lane, client: MqttClient): void {
    if (lane.client !== client) return;
    lane.up = false;
    lane.client = undefined;
    const pending = [...lane.unacked.values()];
    lane.unacked.clear();
    c.inFlight -= pending.length;
    // A publish the broker refuses closes the connection, and the publishes around it go down with it
    // (even one already journaled whose PUBACK had not been written yet). Which one was it? Only a
    // connection lost while probing (one publish in flight) charges an attempt; the first loss starts probing.
    if (!lane.probing) for (const e of pending) e.attempts -= 1;
    lane.probing = true;
    for (const e of pending) requeue(lane, e);
    client.end(true); // releases mqtt.js's own callbacks; ours were moved above
    wake(lane);
  }

  function requeue(lane: Lane, e: Entry): void {
    if (e.attempts >= publishAttempts) {
      if (!e.internal) c.failed += 1;
      count('publish_gave_up');
      return;
    }
    let i = lane.retry.length;
    while (i > 0 && (lane.retry[i - 1]?.seq ?? 0) > e.seq) i--;
    lane.retry.splice(i, 0, e);
  }

  function open(lane: Lane, secret: string): Promise<{ ok: true } | { ok: false; refused: boolean; reason: string }> {
    return connectClient({
      url: opts.broker,
      id: lane.id,
      secret,
      will: statusTopic(lane.id, lane.kind),
      timeoutMs: connectTimeoutMs,
      onLost: (client, reason) => {
        if (lane.client !== client) return; // a close the player asked for
        count(`connection_lost:${reason}`);
        lost(lane, client);
      },
    }).then((r) => {
      if (!r.ok) return r;
      if (stopping) {
        // play() has closed its clients already: a connection finishing now would be left open.
        r.client.end(true);
        return { ok: false as const, refused: false, reason: 'play_ended' };
      }
      lane.client = r.client;
      lane.up = true;
      return { ok: true };
    });
  }

  function refuse(lane: Lane, reason: string): void {
    lane.refused = reason;
    refused.push({ client: lane.id, reason });
  }

  async function ensureUp(lane: Lane, at: number): Promise<boolean> {
    if (lane.up) return true;
    if (lane.refused !== undefined) return false;
    const secret = opts.credentials[lane.id]?.secret;
    if (secret === undefined) {
      refuse(lane, 'no secret for this client in the credentials');
      return false;
    }
    for (let attempt = 1; attempt <= connectAttempts && !stopping; attempt++) {
      const r = await open(lane, secret);
      if (r.ok) {
        // The status publish goes first, ahead of anything left over from a lost connection.
        lane.retry.unshift(statusEntry(lane, at, 'online'));
        return true;
      }
      if (r.refused) {
        refuse(lane, r.reason);
        return false;
      }
      count(`connect:${r.reason}`);
      if (attempt < connectAttempts) await sleep(Math.min(5000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random()));
    }
    return false;
  }

  function send(lane: Lane, e: Entry): void {
    const client = lane.client;
    if (client === undefined) throw new Error('send on a lane without a connection');
    const { topic, payload, qos, retain } = e.action;
    e.attempts += 1;
    e.sends += 1;
    if (e.sends > 1) c.retried += 1;
    else if (!e.internal) c.published += 1;
    e.sentAt = wallNow();
    lane.unacked.set(e.seq, e);
    c.inFlight += 1;
    client.publish(topic, payload, { qos, retain }, (err) => {
      if (lane.unacked.get(e.seq) !== e) return; // moved to the retry list when the connection went
      lane.unacked.delete(e.seq);
      c.inFlight -= 1;
      if (err) {
        count(`publish:${reasonOf(err)}`);
        requeue(lane, e);
      } else if (!e.internal) {
        if (qos === 0) c.qos0 += 1;
        else {
          c.acknowledged += 1;
          if (latencyCount === latencies.length) {
            const bigger = new Float64Array(latencies.length * 2);
            bigger.set(latencies);
            latencies = bigger;
          }
          latencies[latencyCount++] = wallNow() - e.sentAt;
        }
      }
      wake(lane);
    });
  }

  /** Connected, retries sent, and a free in-flight slot; false when the client cannot connect. */
  async function ready(lane: Lane, at: number): Promise<boolean> {
    for (;;) {
      if (!(await ensureUp(lane, at))) return false;
      while (lane.up && lane.retry.length > 0) {
        if (await slot(lane)) send(lane, lane.retry.shift() as Entry);
      }
      if (!lane.up) continue;
      if (lane.probing) {
        // Probing ends only once the last resend is acked: if it is the refused one, it must be charged.
        if (!(await slot(lane)) || lane.retry.length > 0) continue;
        lane.probing = false;
      }
      if (await slot(lane)) return true;
    }
  }

  async function slot(lane: Lane): Promise<boolean> {
    const client = lane.client;
    const window = lane.probing ? 1 : maxInFlight;
    if (await until(() => !lane.up || lane.unacked.size < window, lane, ackTimeoutMs)) return lane.up;
    count('ack_timeout');
    if (client) client.stream.destroy(); // treated as a lost connection: the unacked are resent
    await until(() => lane.client !== client, lane, 5000);
    return false;
  }

  async function goAway(lane: Lane, at: number, how: 'drop' | 'disconnect'): Promise<void> {
    if (!lane.up) return;
    // What the stream sent before going away is delivered first (bounded): the drop is of the connection.
    if (!(await ready(lane, at))) return;
    await until(() => !lane.up || lane.unacked.size === 0, lane, ackTimeoutMs);
    const client = lane.client;
    // Not `lane.up`: the type checker keeps it narrowed to true across the awaits above.
    if (!isUp(lane) || client === undefined) return;
    if (how === 'disconnect') {
      if (await slot(lane)) send(lane, statusEntry(lane, at, 'offline'));
      await until(() => !lane.up || lane.unacked.size === 0, lane, ackTimeoutMs);
    }
    lane.client = undefined; // an intended close: not "lost"
    lane.up = false;
    const remaining = [...lane.unacked.values()];
    lane.unacked.clear();
    c.inFlight -= remaining.length;
    for (const e of remaining) requeue(lane, e);
    await new Promise<void>((resolve) => {
      client.once('close', () => resolve());
      // drop: no DISCONNECT, the broker publishes the will; disconnect: a clean DISCONNECT.
      if (how === 'drop') client.stream.destroy();
      else client.end(false);
      setTimeout(resolve, 5000);
    });
    client.end(true);
    // The broker publishes the will when it notices the closed socket: give it that moment before this
    // client id may connect again, or the will can land after the next `online` (no device is back this fast).
    if (how === 'drop') await sleep(opts.dropGraceMs ?? 100);
  }

  async function perform(lane: Lane, action: Action): Promise<void> {
    switch (action.op) {
      case 'connect':
        await ready(lane, action.at); // connected, and its `online` sent
        return;
      case 'drop':
      case 'disconnect':
        await goAway(lane, action.at, action.op);
        return;
      case 'publish':
        if (await ready(lane, action.at)) send(lane, { seq: seq++, action, internal: false, attempts: 0, sends: 0, sentAt: 0 });
        else if (lane.refused !== undefined) c.skipped += 1;
        else c.failed += 1;
        return;
    }
  }

  function kick(lane: Lane): void {
    if (lane.running) return;
    lane.running = true;
    void (async () => {
      for (let action = lane.queue.shift(); action !== undefined; action = lane.queue.shift()) {
        c.queued -= 1;
        wakeAll();
        try {
          await perform(lane, action);
        } catch (err) {
          // A bug, but one client's bug must not stall every other lane and the run.
          count(`bug:${reasonOf(err)}`);
        }
      }
      lane.running = false;
      wakeAll();
    })();
  }

  const toSink = opts.record === undefined ? undefined : recordActions(opts.record);
  const idle = (): boolean => [...lanes.values()].every((l) => !l.running && l.queue.length === 0 && l.unacked.size === 0);
  const progress = (): PlayProgress => ({
    actions: c.actions,
    published: c.published,
    acknowledged: c.acknowledged + c.qos0,
    failed: c.failed,
    refused: refused.length,
    inFlight: c.inFlight,
    at: lastAt,
  });
  const ticker = opts.onProgress ? setInterval(() => opts.onProgress?.(progress()), opts.progressIntervalMs ?? 250) : undefined;
  const started = wallNow();

  const settleMs = opts.settle === true ? 0 : typeof opts.settle === 'number' ? opts.settle : undefined;
  let settledAt = -Infinity;
  try {
    for await (const action of actions) {
      if (opts.signal?.aborted === true) break;
      if (action.at > opts.clock.now()) {
        if (settleMs !== undefined && action.at > settledAt + settleMs) {
          await until(idle);
          settledAt = action.at;
        }
        await opts.clock.waitUntil(action.at);
      }
      lastAt = action.at;
      c.actions += 1;
      const lane = laneFor(action.client);
      toSink?.(lane.id, lane.kind, action);
      lane.queue.push(action);
      c.queued += 1;
      kick(lane);
      if (c.queued >= maxQueued) await until(() => c.queued < maxQueued / 2);
    }
    await until(() => [...lanes.values()].every((l) => !l.running && l.queue.length === 0));
    // Drain: the last acks, and the left-overs of connections lost after their client's last action.
    const deadline = wallNow() + (opts.drainTimeoutMs ?? 30_000);
    const unreachable = new Set<Lane>();
    const leftOver = (): Lane[] => [...lanes.values()].filter((l) => l.retry.length > 0 && l.refused === undefined && !unreachable.has(l));
    while (wallNow() < deadline && (c.inFlight > 0 || leftOver().length > 0)) {
      const lanesWithRetries = leftOver();
      if (lanesWithRetries.length === 0) {
        await until(() => c.inFlight === 0 || leftOver().length > 0, undefined, deadline - wallNow());
        continue;
      }
      await Promise.all(
        lanesWithRetries.map(async (l) => {
          // ready() sends the retries first; it is false when the client cannot connect any more.
          if (!(await ready(l, lastAt))) unreachable.add(l);
        }),
      );
    }
  } finally {
    stopping = true;
    if (ticker) clearInterval(ticker);
    for (const lane of lanes.values()) {
      for (const e of [...lane.unacked.values(), ...lane.retry]) if (!e.internal) c.failed += 1;
      if (lane.unacked.size > 0) count('not_acked_at_end');
      // Counted as failed: an ack arriving during the final DISCONNECT must not count as well.
      c.inFlight -= lane.unacked.size;
      lane.unacked.clear();
      lane.retry.length = 0;
    }
    await Promise.all(
      [...lanes.values()].map(async (lane) => {
        const client = lane.client;
        lane.client = undefined;
        lane.up = false;
        if (client === undefined) return;
        // The run is over, the devices are not switched off: a clean DISCONNECT, no will, status unchanged.
        await Promise.race([client.endAsync(false), sleep(5000)]);
        client.end(true);
      }),
    );
  }
  const elapsedMs = wallNow() - started;
  refused.sort((a, b) => (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
  opts.onProgress?.(progress());
  const sorted = latencies.slice(0, latencyCount).sort();
  return {
    actions: c.actions,
    clients: lanes.size,
    published: c.published,
    acknowledged: c.acknowledged,
    qos0: c.qos0,
    retried: c.retried,
    failed: c.failed,
    skipped: c.skipped,
    refused,
    errors,
    elapsedMs: Math.round(elapsedMs),
    ratePerSec: elapsedMs > 0 ? Math.round(((c.acknowledged + c.qos0) / elapsedMs) * 1000 * 10) / 10 : 0,
    latencyMs:
      latencyCount === 0
        ? null
        : { p50: round2(percentile(sorted, 0.5)), p99: round2(percentile(sorted, 0.99)), max: round2(sorted[latencyCount - 1] ?? 0) },
  };
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
