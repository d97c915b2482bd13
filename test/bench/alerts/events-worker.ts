import mqtt, { type MqttClient } from 'mqtt';
import { nowMs } from '../proc.js';

// The alarm publisher of the alerts benchmark: a child process (IPC channel) that connects the fall sensors
// and the door locks (mqtt.js, one client per device, as the devices would) and publishes each one's single
// event at the moment the parent scheduled, in the native `tryggheim` format at QoS 1. Its event loop is
// otherwise idle, so the publish time it records is the moment the PUBLISH is handed to the socket.
// Protocol: parent → `init` → `connected`; `schedule` → `published` / `acked` / `failed` per event, as they
// happen; `close` → `closed`, then it exits.

export interface EventDevice {
  id: string;
  secret: string;
}

export interface EventsInit {
  type: 'init';
  url: string;
  devices: EventDevice[];
  connectConcurrency: number;
}

export interface ScheduledEvent {
  /** Index into the init's devices. */
  device: number;
  /** Native event type: `alarm.fall` or `lock.opened`. */
  type: 'alarm.fall' | 'lock.opened';
  /** Epoch ms (performance.timeOrigin + performance.now()) at which to publish. */
  at: number;
}

export type EventsParentMessage = EventsInit | { type: 'schedule'; events: ScheduledEvent[] } | { type: 'close' };

export interface EventsConnectReport {
  connected: number;
  failed: number;
  failures: Record<string, number>;
  elapsedMs: number;
}

export type EventsMessage =
  | { type: 'connected'; report: EventsConnectReport; clockOffsetMs: number }
  | { type: 'published'; device: number; publishedAt: number; ts: number; lateMs: number }
  | { type: 'acked'; device: number; ackedAt: number }
  | { type: 'failed'; device: number; reason: string }
  | { type: 'dropped'; device: number; reason: string }
  | { type: 'closed' }
  | { type: 'fatal'; message: string };

function send(msg: EventsMessage): void {
  process.send?.(msg);
}

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return `connack_rc_${code}`;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message.slice(0, 60) : 'unknown_error';
}

let devices: EventDevice[] = [];
const clients: (MqttClient | undefined)[] = [];
const timers = new Set<NodeJS.Timeout>();
let closing = false;
let url = '';

function connectOne(i: number): Promise<string | undefined> {
  const dev = devices[i];
  if (dev === undefined) return Promise.resolve('no_such_device');
  return new Promise((resolve) => {
    let settled = false;
    let lastError: string | undefined;
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: dev.id,
      username: dev.id,
      password: dev.secret,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
    });
    const finish = (err: string | undefined): void => {
      if (settled) return;
      settled = true;
      if (err === undefined) clients[i] = client;
      else client.end(true);
      resolve(err);
    };
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
      if (clients[i] === client && !closing) {
        clients[i] = undefined;
        send({ type: 'dropped', device: i, reason: lastError ?? 'closed_by_server' });
      }
    });
  });
}

async function connectAll(concurrency: number): Promise<EventsConnectReport> {
  const start = nowMs();
  const report: EventsConnectReport = { connected: 0, failed: 0, failures: {}, elapsedMs: 0 };
  let next = 0;
  const runner = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= devices.length) return;
      for (let attempt = 1; ; attempt++) {
        const err = await connectOne(i);
        if (err === undefined) {
          report.connected += 1;
          break;
        }
        report.failures[err] = (report.failures[err] ?? 0) + 1;
        if (attempt >= 4 || err.startsWith('connack_rc_')) {
          report.failed += 1;
          break;
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, devices.length)) }, runner));
  report.elapsedMs = nowMs() - start;
  return report;
}

function publish(ev: ScheduledEvent): void {
  const client = clients[ev.device];
  const dev = devices[ev.device];
  if (client === undefined || dev === undefined) {
    send({ type: 'failed', device: ev.device, reason: 'not_connected' });
    return;
  }
  // The device's clock is the machine's wall clock (what the gateway's timers run on).
  const ts = Date.now();
  const payload = JSON.stringify({ type: ev.type, ts, seq: 1 });
  const publishedAt = nowMs();
  client.publish(`tryggheim/v1/devices/${dev.id}/up`, payload, { qos: 1 }, (err) => {
    if (err) send({ type: 'failed', device: ev.device, reason: reasonOf(err) });
    else send({ type: 'acked', device: ev.device, ackedAt: nowMs() });
  });
  send({ type: 'published', device: ev.device, publishedAt, ts, lateMs: publishedAt - ev.at });
}

process.on('message', (raw: unknown) => {
  const msg = raw as EventsParentMessage;
  switch (msg.type) {
    case 'init':
      devices = msg.devices;
      url = msg.url;
      connectAll(msg.connectConcurrency).then(
        (report) => {
          send({ type: 'connected', report, clockOffsetMs: nowMs() - Date.now() });
        },
        (err: unknown) => {
          send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        },
      );
      break;
    case 'schedule':
      for (const ev of msg.events) {
        const t = setTimeout(
          () => {
            timers.delete(t);
            publish(ev);
          },
          Math.max(0, ev.at - nowMs()),
        );
        timers.add(t);
      }
      break;
    case 'close': {
      closing = true;
      for (const t of timers) clearTimeout(t);
      void Promise.all(
        clients.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c === undefined) {
                resolve();
                return;
              }
              c.end(false, {}, () => {
                resolve();
              });
            }),
        ),
      ).then(() => {
        process.send?.({ type: 'closed' } satisfies EventsMessage, () => {
          process.exit(0);
        });
      });
      break;
    }
  }
});

// The parent went away (killed on timeout): nothing left to report to.
process.on('disconnect', () => {
  process.exit(0);
});
