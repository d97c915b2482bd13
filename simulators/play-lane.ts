import type { MqttClient } from 'mqtt';
import { connectClient, reasonOf } from './mqtt-connect.js';
import type { PlayOptions, PublishAction } from './play-types.js';
import { statusTopic, type Action, type ClientKind } from './types.js';

// A lane is one MQTT client id of a run (player.ts): its mqtt.js connection, and its actions taken strictly in
// order — connect and `online`, publishes kept until their PUBACK, drop, disconnect — with reconnects and
// resends. player.ts reads the stream, hands each action to its client's lane and drains the lanes at the end.
//
// mqtt.js runs with reconnectPeriod 0 and the lane reconnects itself: with its own reconnect, mqtt.js 5.16
// fails the publishes it had queued with "Connection closed" when a reconnect fails, and nothing resends
// them. Here every publish stays in the lane's `unacked` map until its PUBACK; whatever was not acked when a
// connection went away is resent, first and in order, on the client's next connection (counted as retried).

export interface Entry {
  readonly seq: number;
  readonly action: PublishAction;
  /** The player's own status publishes (`online`, `offline`): not counted as the stream's publishes. */
  readonly internal: boolean;
  /** Sends charged against publishAttempts. */
  attempts: number;
  sends: number;
  sentAt: number;
}

export interface Lane {
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

/** The run's counters, shared by player.ts and the lanes. */
export interface PlayCounters {
  actions: number;
  published: number;
  acknowledged: number;
  qos0: number;
  retried: number;
  failed: number;
  skipped: number;
  /** Actions read from the stream and not yet taken by their lane. */
  queued: number;
  /** QoS 1/2 publishes sent and not yet acked, over all lanes. */
  inFlight: number;
}

/** What the lanes share with the run (player.ts). */
export interface LaneRun {
  readonly c: PlayCounters;
  /** Counts a failure reason for the summary's `errors`. */
  readonly count: (reason: string) => void;
  /** Clients refused by the broker or the credentials, with the reason. */
  readonly refused: { client: string; reason: string }[];
  /** A QoS 1/2 publish of the stream was acked this many wall-clock ms after it was sent. */
  readonly acked: (latencyMs: number) => void;
  /** True once play() is leaving (done, or the stream threw): lanes stop reconnecting. */
  readonly stopping: () => boolean;
  /** Waits until `cond` holds, re-checked when `lane` is woken (without a lane: on any wake); false on timeout. */
  readonly until: (cond: () => boolean, lane?: Lane, timeoutMs?: number) => Promise<boolean>;
  /** Something changed on `lane`: re-checks its waiters and the run's. */
  readonly wake: (lane: Lane) => void;
}

export interface Lanes {
  /** Every client id the stream named, in order of its first action. */
  readonly lanes: ReadonlyMap<string, Lane>;
  readonly laneFor: (id: string) => Lane;
  /** Takes one action of the lane's client: connect, publish, drop or disconnect. */
  readonly perform: (lane: Lane, action: Action) => Promise<void>;
  /** Connected, retries sent, and a free in-flight slot; false when the client cannot connect. */
  readonly ready: (lane: Lane, at: number) => Promise<boolean>;
}

const isUp = (lane: Lane): boolean => lane.up;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const wallNow = (): number => performance.now();

export function createLanes(opts: PlayOptions, run: LaneRun): Lanes {
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 32);
  const connectAttempts = Math.max(1, opts.connectAttempts ?? 5);
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const publishAttempts = Math.max(1, opts.publishAttempts ?? 3);
  const ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
  const { c, count, refused, until, wake } = run;
  const lanes = new Map<string, Lane>();
  let seq = 0;

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
      if (run.stopping()) {
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
    for (let attempt = 1; attempt <= connectAttempts && !run.stopping(); attempt++) {
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
          run.acked(wallNow() - e.sentAt);
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

  return { lanes, laneFor, perform, ready };
}
