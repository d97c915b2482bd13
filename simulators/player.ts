import { reasonOf } from './mqtt-connect.js';
import { createLanes, type Lane, type PlayCounters } from './play-lane.js';
import { recordActions } from './recording.js';
import type { PlayedMessage, PlayOptions, PlayProgress, PlaySink, PlaySummary, PublishAction } from './play-types.js';
import type { Action } from './types.js';

export type { PlayedMessage, PlayOptions, PlayProgress, PlaySink, PlaySummary, PublishAction };

// Plays one time-ordered Action stream over MQTT (README.md "One stream, one player"): scenarios, recordings
// and hand-built lists all come through here. One mqtt.js client per MQTT client id, each with its own lane
// (play-lane.ts: connection, ordered publishes, acks, reconnects and resends): a lane runs its client's actions
// strictly in order, lanes run side by side, and the stream is read only as fast as the clock allows and the
// lanes keep up (bounded queues, bounded in-flight publishes). This file paces the stream, settles, drains,
// closes the clients and sums up the run.

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const wallNow = (): number => performance.now();

function percentile(sorted: Float64Array, p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? 0;
}

export async function play(actions: Iterable<Action> | AsyncIterable<Action>, opts: PlayOptions): Promise<PlaySummary> {
  const maxQueued = Math.max(1, opts.maxQueued ?? 10_000);
  const c: PlayCounters = { actions: 0, published: 0, acknowledged: 0, qos0: 0, retried: 0, failed: 0, skipped: 0, queued: 0, inFlight: 0 };
  const errors: Record<string, number> = {};
  const refused: { client: string; reason: string }[] = [];
  let latencies = new Float64Array(1024);
  let latencyCount = 0;
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

  const acked = (latencyMs: number): void => {
    if (latencyCount === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[latencyCount++] = latencyMs;
  };
  const { lanes, laneFor, perform, ready } = createLanes(opts, { c, count, refused, acked, stopping: () => stopping, until, wake });

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
