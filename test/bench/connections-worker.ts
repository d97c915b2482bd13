import mqtt, { type MqttClient } from 'mqtt';
import { nowMs } from './proc.js';

// A client worker for the connections benchmark, run as a child process with an IPC channel. It connects
// its share of the devices with bounded concurrency (mqtt.js, one client per device, clean session,
// keepalive 60, no automatic reconnect), retries refused attempts with backoff as devices in the field
// do, and reports timings. Protocol: parent → `init` (devices, broker address) → worker `ready`;
// parent → `go` → worker `progress`* then `done`; parent → `close` → worker `closed`, then it exits.

export interface WorkerDevice {
  id: string;
  secret: string;
}

export interface WorkerInit {
  type: 'init';
  host: string;
  port: number;
  devices: WorkerDevice[];
  concurrency: number;
  retries: number;
  attemptTimeoutMs: number;
}

export type ParentMessage = WorkerInit | { type: 'go' } | { type: 'close' };

export interface WorkerResult {
  devices: number;
  connected: number;
  attempts: number;
  /** Every failed attempt, by what the client saw (a device may fail, retry and then connect). */
  refusals: Record<string, number>;
  /** Devices that never connected, by the reason of their last attempt. */
  gaveUp: Record<string, number>;
  /**
   * TCP connection established → CONNACK received, ms, successful attempts only. mqtt.js writes the CONNECT
   * into the socket before the handshake completes, so it leaves the client the moment TCP is connected.
   */
  connackMs: number[];
  /** Attempt start (SYN) → TCP connected, ms: shows a full listen backlog (a dropped SYN is resent after 1 s). */
  tcpMs: number[];
  /** Attempt start → CONNACK, ms, successful attempts only. */
  totalMs: number[];
  /** Epoch ms of each CONNACK (for per-second rates). */
  connackAt: number[];
  goAt: number;
  lastConnackAt: number | undefined;
  /** Connected clients whose connection closed before the bench closed it. */
  droppedAfterConnect: number;
  /** This worker's own CPU time during the connect phase, ms (is the client side the bottleneck?). */
  cpuMs: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; connected: number; failedAttempts: number; gaveUp: number }
  | { type: 'done'; result: WorkerResult }
  | { type: 'closed'; elapsedMs: number; forced: number; droppedAfterConnect: number; dropReasons: Record<string, number> }
  | { type: 'fatal'; message: string };

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

/** Failures worth retrying: the broker refused or dropped the socket, or did not answer in time. */
function retryable(reason: string): boolean {
  return !reason.startsWith('connack_rc_');
}

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') return `connack_rc_${code}`;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message.slice(0, 60) : 'unknown_error';
}

type Attempt = { ok: true; client: MqttClient; startedAt: number; tcpAt: number; connackAt: number } | { ok: false; reason: string };

let init: WorkerInit | undefined;
const clients: MqttClient[] = [];
let closing = false;
let droppedAfterConnect = 0;
const dropReasons: Record<string, number> = {};

function attempt(cfg: WorkerInit, dev: WorkerDevice): Promise<Attempt> {
  return new Promise((resolve) => {
    const startedAt = nowMs();
    let tcpAt: number | undefined;
    let lastError: string | undefined;
    let settled = false;
    let connected = false;
    let dropReason: string | undefined;
    const client = mqtt.connect(`mqtt://${cfg.host}:${cfg.port}`, {
      protocolVersion: 4,
      clientId: dev.id,
      username: dev.id,
      password: dev.secret,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: cfg.attemptTimeoutMs,
      resubscribe: false,
    });
    const finish = (result: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!result.ok) client.end(true);
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish({ ok: false, reason: 'timeout' });
    }, cfg.attemptTimeoutMs + 1000);
    // The stream exists as soon as connect() returns (mqtt.js sets it up synchronously).
    client.stream.once('connect', () => {
      tcpAt = nowMs();
    });
    client.once('connect', () => {
      connected = true;
      const connackAt = nowMs();
      finish({ ok: true, client, startedAt, tcpAt: tcpAt ?? startedAt, connackAt });
    });
    client.on('error', (err) => {
      lastError = reasonOf(err);
      if (connected) dropReason = lastError;
      if (lastError.startsWith('connack_rc_')) finish({ ok: false, reason: lastError });
    });
    client.on('close', () => {
      if (connected) {
        if (!closing) {
          // The server closed a connection it had CONNACKed (e.g. a session takeover by a stale attempt).
          droppedAfterConnect += 1;
          const why = dropReason ?? 'closed_by_server';
          dropReasons[why] = (dropReasons[why] ?? 0) + 1;
        }
        return;
      }
      finish({ ok: false, reason: lastError ?? 'closed_before_connack' });
    });
  });
}

async function connectAll(cfg: WorkerInit): Promise<WorkerResult> {
  const goAt = nowMs();
  const cpu0 = process.cpuUsage();
  const result: WorkerResult = {
    devices: cfg.devices.length,
    connected: 0,
    attempts: 0,
    refusals: {},
    gaveUp: {},
    connackMs: [],
    tcpMs: [],
    totalMs: [],
    connackAt: [],
    goAt,
    lastConnackAt: undefined,
    droppedAfterConnect: 0,
    cpuMs: 0,
  };
  let failedAttempts = 0;
  let gaveUp = 0;
  let next = 0;
  const retryQueue: WorkerDevice[] = [];
  const tries = new Map<string, number>();
  let backingOff = 0;
  let waiters: (() => void)[] = [];
  const wakeAll = (): void => {
    const w = waiters;
    waiters = [];
    for (const fn of w) fn();
  };

  const progress = setInterval(() => {
    send({ type: 'progress', connected: result.connected, failedAttempts, gaveUp });
  }, 500);

  async function runner(): Promise<void> {
    for (;;) {
      const dev = retryQueue.pop() ?? (next < cfg.devices.length ? cfg.devices[next++] : undefined);
      if (dev === undefined) {
        if (backingOff === 0) {
          wakeAll();
          return;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
        continue;
      }
      result.attempts += 1;
      const r = await attempt(cfg, dev);
      if (r.ok) {
        clients.push(r.client);
        result.connected += 1;
        result.connackMs.push(r.connackAt - r.tcpAt);
        result.tcpMs.push(r.tcpAt - r.startedAt);
        result.totalMs.push(r.connackAt - r.startedAt);
        result.connackAt.push(r.connackAt);
        result.lastConnackAt = Math.max(result.lastConnackAt ?? 0, r.connackAt);
        continue;
      }
      failedAttempts += 1;
      result.refusals[r.reason] = (result.refusals[r.reason] ?? 0) + 1;
      const n = (tries.get(dev.id) ?? 0) + 1;
      tries.set(dev.id, n);
      if (retryable(r.reason) && n <= cfg.retries) {
        // Exponential backoff with jitter, as an mqtt.js device with reconnectPeriod 1000 would roughly do.
        const delay = Math.min(8000, 1000 * 2 ** (n - 1)) * (0.5 + Math.random());
        backingOff += 1;
        setTimeout(() => {
          backingOff -= 1;
          retryQueue.push(dev);
          wakeAll();
        }, delay);
      } else {
        gaveUp += 1;
        result.gaveUp[r.reason] = (result.gaveUp[r.reason] ?? 0) + 1;
      }
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, cfg.concurrency) }, () => runner()));
  clearInterval(progress);
  send({ type: 'progress', connected: result.connected, failedAttempts, gaveUp });
  const cpu = process.cpuUsage(cpu0);
  result.cpuMs = (cpu.user + cpu.system) / 1000;
  result.droppedAfterConnect = droppedAfterConnect;
  return result;
}

async function closeAll(): Promise<{ elapsedMs: number; forced: number }> {
  closing = true;
  const start = performance.now();
  let forced = 0;
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            forced += 1;
            c.end(true, {}, () => {
              resolve();
            });
          }, 20_000);
          c.end(false, {}, () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
  return { elapsedMs: performance.now() - start, forced };
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentMessage;
  switch (msg.type) {
    case 'init':
      init = msg;
      send({ type: 'ready' });
      break;
    case 'go': {
      const cfg = init;
      if (cfg === undefined) {
        send({ type: 'fatal', message: 'go before init' });
        return;
      }
      connectAll(cfg).then(
        (result) => {
          send({ type: 'done', result });
        },
        (err: unknown) => {
          send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        },
      );
      break;
    }
    case 'close': {
      const dropped = droppedAfterConnect;
      const reasons = { ...dropReasons };
      void closeAll().then(({ elapsedMs, forced }) => {
        process.send?.(
          { type: 'closed', elapsedMs, forced, droppedAfterConnect: dropped, dropReasons: reasons } satisfies WorkerMessage,
          () => {
            process.exit(0);
          },
        );
      });
      break;
    }
  }
});

// The parent went away (killed on timeout): nothing left to report to.
process.on('disconnect', () => {
  process.exit(0);
});
