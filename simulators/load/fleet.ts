import mqtt, { type MqttClient } from 'mqtt';
import { initialSensorState, nativeMeasurement, nativeUpTopic, prng, stepSensorState, type SensorState } from './native-payload.js';

// A fleet of simulated devices publishing native measurements over MQTT: the load generator behind both
// `tryggheim sim load` (./run.ts) and the ingest benchmark (test/bench/ingest-worker.ts) — one load tool.
// So it is a library with no knowledge of the benchmark (no IPC, no /proc, no InfluxDB) and, like every
// simulator, black-box: it imports only mqtt and ./native-payload.ts, never adapters/ or gateway/.
//
// Each device is one mqtt.js client (MQTT 3.1.1, clean session, no automatic reconnect, username =
// clientId = device id). Publishing is closed-loop: every device keeps at most `window` QoS 1 publishes
// without a PUBACK and sends the next one when an ack arrives, so the fleet runs as fast as the server
// acknowledges. `intervalMs` adds a per-device pace on top (open loop up to the window). Every acked
// message is recorded (device, seq, sent, acked) so a caller can check afterwards that it was stored.

export interface FleetDevice {
  id: string;
  secret: string;
}

export interface FleetOptions {
  /** `mqtt://host:port` */
  url: string;
  devices: readonly FleetDevice[];
  /** Most QoS 1 publishes a device has without a PUBACK (its send window). */
  window: number;
  /** Connection attempts in flight while connecting. */
  connectConcurrency: number;
  connectTimeoutMs?: number;
  /** Attempts per device before it is given up (a refused or timed-out attempt is retried with backoff). */
  connectAttempts?: number;
  /** Each device sends at most one message per `intervalMs`; absent = as fast as the window allows. */
  intervalMs?: number;
  /** Seed of the payload values (the same seed gives the same readings). */
  seed?: number;
  /** First `seq` of every device (default 1). */
  firstSeq?: number;
  /** Epoch milliseconds; default `performance.timeOrigin + performance.now()` (comparable between processes). */
  now?: () => number;
}

export interface ConnectReport {
  connected: number;
  failed: number;
  failures: Record<string, number>;
  elapsedMs: number;
}

export interface FleetCounters {
  published: number;
  acked: number;
  /** Publishes the client reported failed (connection lost before the ack, ...). */
  failed: number;
  outstanding: number;
  /** Connected devices whose connection closed while the fleet was running (not closed by the fleet). */
  dropped: number;
  payloadBytes: number;
}

/** One row per acknowledged message; `device` is the index into `FleetOptions.devices`. */
export interface AckRecords {
  count: number;
  device: Uint32Array;
  seq: Float64Array;
  sentAt: Float64Array;
  ackedAt: Float64Array;
}

export interface Fleet {
  connect(): Promise<ConnectReport>;
  /** Starts publishing on every connected device. */
  start(): void;
  /** Stops sending new messages and waits up to `drainMs` for the outstanding acks; returns how many are still missing. */
  stop(drainMs: number): Promise<number>;
  counters(): FleetCounters;
  records(): AckRecords;
  /** Failure reasons of publishes and drops, counted. */
  errors(): Record<string, number>;
  close(): Promise<void>;
}

class Column<T extends Uint32Array | Float64Array> {
  private data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.data = make(1 << 16);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  /** A copy of the filled part (a view would carry the whole buffer through structured clone). */
  copy(): T {
    return this.data.slice(0, this.length) as T;
  }
}

interface DeviceState {
  index: number;
  id: string;
  topic: string;
  client: MqttClient | undefined;
  nextSeq: number;
  lastTs: number;
  outstanding: number;
  nextAt: number;
  timer: NodeJS.Timeout | undefined;
  sensor: SensorState;
  rand: () => number;
  alive: boolean;
}

const defaultNow = (): number => performance.timeOrigin + performance.now();

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return `connack_rc_${code}`;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message.slice(0, 60) : 'unknown_error';
}

export function createFleet(opts: FleetOptions): Fleet {
  const now = opts.now ?? defaultNow;
  const window = Math.max(1, opts.window);
  const seed = opts.seed ?? 1;
  const states: DeviceState[] = opts.devices.map((d, index) => {
    const rand = prng(seed * 1_000_003 + index);
    return {
      index,
      id: d.id,
      topic: nativeUpTopic(d.id),
      client: undefined,
      nextSeq: opts.firstSeq ?? 1,
      lastTs: 0,
      outstanding: 0,
      nextAt: 0,
      timer: undefined,
      sensor: initialSensorState(rand),
      rand,
      alive: false,
    };
  });
  const counters: FleetCounters = { published: 0, acked: 0, failed: 0, outstanding: 0, dropped: 0, payloadBytes: 0 };
  const errors: Record<string, number> = {};
  const cols = {
    device: new Column((n) => new Uint32Array(n)),
    seq: new Column((n) => new Float64Array(n)),
    sentAt: new Column((n) => new Float64Array(n)),
    ackedAt: new Column((n) => new Float64Array(n)),
  };
  let running = false;
  let closing = false;
  let drained: (() => void) | undefined;
  const count = (reason: string): void => {
    errors[reason] = (errors[reason] ?? 0) + 1;
  };

  function attempt(dev: FleetDevice, st: DeviceState): Promise<string | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      let lastError: string | undefined;
      const timeoutMs = opts.connectTimeoutMs ?? 30_000;
      const client = mqtt.connect(opts.url, {
        protocolVersion: 4,
        clientId: dev.id,
        username: dev.id,
        password: dev.secret,
        clean: true,
        keepalive: 60,
        reconnectPeriod: 0,
        connectTimeout: timeoutMs,
        resubscribe: false,
      });
      const finish = (err: string | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === undefined) {
          st.client = client;
          st.alive = true;
        } else {
          client.end(true);
        }
        resolve(err);
      };
      const timer = setTimeout(() => {
        finish('timeout');
      }, timeoutMs + 1000);
      client.once('connect', () => {
        finish(undefined);
      });
      client.on('error', (err) => {
        lastError = reasonOf(err);
        if (lastError.startsWith('connack_rc_')) finish(lastError);
      });
      client.on('close', () => {
        if (!settled) {
          finish(lastError ?? 'closed_before_connack');
          return;
        }
        if (st.client === client && st.alive) {
          st.alive = false;
          if (!closing) {
            counters.dropped += 1;
            count(`dropped:${lastError ?? 'closed_by_server'}`);
          }
          // Publishes still waiting for an ack on this connection are lost to the fleet.
          counters.failed += st.outstanding;
          counters.outstanding -= st.outstanding;
          st.outstanding = 0;
          checkDrained();
        }
      });
    });
  }

  async function connect(): Promise<ConnectReport> {
    const start = now();
    const report: ConnectReport = { connected: 0, failed: 0, failures: {}, elapsedMs: 0 };
    const attempts = opts.connectAttempts ?? 4;
    let next = 0;
    const runner = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        const dev = opts.devices[i];
        const st = states[i];
        if (dev === undefined || st === undefined) return;
        for (let a = 1; ; a++) {
          const err = await attempt(dev, st);
          if (err === undefined) {
            report.connected += 1;
            break;
          }
          report.failures[err] = (report.failures[err] ?? 0) + 1;
          if (a >= attempts || err.startsWith('connack_rc_')) {
            report.failed += 1;
            break;
          }
          await new Promise((r) => setTimeout(r, Math.min(8000, 500 * 2 ** (a - 1)) * (0.5 + Math.random())));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.connectConcurrency, opts.devices.length)) }, runner));
    report.elapsedMs = now() - start;
    return report;
  }

  function checkDrained(): void {
    if (!running && counters.outstanding === 0 && drained !== undefined) {
      const d = drained;
      drained = undefined;
      d();
    }
  }

  function publishOne(st: DeviceState): void {
    const client = st.client;
    if (client === undefined) return;
    stepSensorState(st.sensor, st.rand);
    // A device's clock never repeats a millisecond, so every reading has its own timestamp.
    const ts = Math.max(Date.now(), st.lastTs + 1);
    st.lastTs = ts;
    const seq = st.nextSeq++;
    const payload = nativeMeasurement(st.sensor, seq, ts);
    st.outstanding += 1;
    counters.outstanding += 1;
    counters.published += 1;
    counters.payloadBytes += payload.length;
    const sentAt = now();
    client.publish(st.topic, payload, { qos: 1 }, (err) => {
      if (st.outstanding === 0) return; // the connection closed and these were already counted as failed
      st.outstanding -= 1;
      counters.outstanding -= 1;
      if (err) {
        counters.failed += 1;
        count(`publish:${reasonOf(err)}`);
      } else {
        counters.acked += 1;
        cols.device.push(st.index);
        cols.seq.push(seq);
        cols.sentAt.push(sentAt);
        cols.ackedAt.push(now());
      }
      pump(st);
      checkDrained();
    });
  }

  function pump(st: DeviceState): void {
    while (running && st.alive && st.outstanding < window) {
      if (opts.intervalMs !== undefined) {
        const t = now();
        if (t < st.nextAt) {
          st.timer ??= setTimeout(() => {
            st.timer = undefined;
            pump(st);
          }, st.nextAt - t);
          return;
        }
        st.nextAt = Math.max(t, st.nextAt) + opts.intervalMs;
      }
      publishOne(st);
    }
  }

  return {
    connect,
    start() {
      running = true;
      // Round-robin: every device sends its first message before any sends its second.
      const rounds = opts.intervalMs === undefined ? window : 1;
      for (let k = 0; k < rounds; k++) for (const st of states) pumpOnce(st);
      for (const st of states) pump(st);
    },
    async stop(drainMs) {
      running = false;
      for (const st of states) {
        if (st.timer) clearTimeout(st.timer);
        st.timer = undefined;
      }
      if (counters.outstanding > 0) {
        await Promise.race([new Promise<void>((r) => (drained = r)), new Promise<void>((r) => setTimeout(r, drainMs))]);
        drained = undefined;
      }
      return counters.outstanding;
    },
    counters: () => ({ ...counters }),
    records: () => ({
      count: cols.device.length,
      device: cols.device.copy(),
      seq: cols.seq.copy(),
      sentAt: cols.sentAt.copy(),
      ackedAt: cols.ackedAt.copy(),
    }),
    errors: () => ({ ...errors }),
    async close() {
      closing = true;
      running = false;
      await Promise.all(
        states.map(
          (st) =>
            new Promise<void>((resolve) => {
              const c = st.client;
              if (c === undefined) {
                resolve();
                return;
              }
              const t = setTimeout(() => {
                c.end(true, {}, () => {
                  resolve();
                });
              }, 10_000);
              c.end(false, {}, () => {
                clearTimeout(t);
                resolve();
              });
            }),
        ),
      );
    },
  };

  function pumpOnce(st: DeviceState): void {
    if (running && st.alive && st.outstanding < window) {
      // Paced devices start at a random point of their interval, not all in the same millisecond.
      if (opts.intervalMs !== undefined) st.nextAt = now() + opts.intervalMs * st.rand();
      publishOne(st);
    }
  }
}
