import http from 'node:http';
import mqtt, { type MqttClient } from 'mqtt';

// The do-it-yourself pipeline of the ingest benchmark, as a user would build it without Tryggheim: ONE
// mqtt.js subscriber on mosquitto (`tryggheim/v1/devices/+/up`, QoS 1) that turns every message into a
// line of line protocol and POSTs batches to InfluxDB's /write. No validation beyond JSON.parse, no
// journal: mqtt.js acknowledges a message as soon as the handler returns, so whatever is buffered here is
// lost if this process dies. Lines are built as strings by hand (no client library), batched by count
// (`batchSize`) or age (`flushMs`), at most `maxInFlight` requests at once, a failed request retried.
// Run as a child process with an IPC channel: parent → `init` → `ready`; `progress` every 500 ms;
// parent → `snapshot` → `snapshot` (counters now); parent → `drain` → everything buffered is written → `drained`; parent → `close` → exits.

export interface DiyInit {
  type: 'init';
  mqttUrl: string;
  username: string;
  password: string;
  influxUrl: string;
  database: string;
  batchSize: number;
  flushMs: number;
  maxInFlight: number;
}

export type DiyParentMessage = DiyInit | { type: 'snapshot' } | { type: 'drain' } | { type: 'close' };

export interface DiyCounters {
  received: number;
  /** Lines InfluxDB answered 204 for. */
  written: number;
  /** Lines built and not yet confirmed (buffered or in a request). */
  pending: number;
  requests: number;
  failedRequests: number;
  parseErrors: number;
  cpuMs: number;
}

export type DiyMessage =
  | { type: 'ready' }
  | { type: 'progress'; counters: DiyCounters }
  | { type: 'snapshot'; counters: DiyCounters }
  | { type: 'drained'; counters: DiyCounters }
  | { type: 'fatal'; message: string };

function send(msg: DiyMessage): void {
  process.send?.(msg);
}

/** The naive line a user writes: measurement `sensor`, tag `device_id`, every reading as a field, `ts` in ms. */
export function diyLine(topic: string, payload: Buffer): string {
  const deviceId = topic.split('/')[3] ?? 'unknown';
  const m = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  const fields: string[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k === 'type' || k === 'ts') continue;
    if (k === 'seq') fields.push(`seq=${String(v)}i`);
    else if (typeof v === 'number' || typeof v === 'boolean') fields.push(`${k}=${String(v)}`);
    else if (typeof v === 'string') fields.push(`${k}="${v.replace(/["\\]/g, '\\$&')}"`);
  }
  const ts = typeof m.ts === 'string' ? Date.parse(m.ts) : typeof m.ts === 'number' ? m.ts : Date.now();
  return `sensor,device_id=${deviceId} ${fields.join(',')} ${ts}`;
}

function run(cfg: DiyInit): void {
  const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.maxInFlight });
  const url = new URL(`/write?db=${encodeURIComponent(cfg.database)}&precision=ms`, cfg.influxUrl);
  const cpu0 = process.cpuUsage();
  const counters: DiyCounters = { received: 0, written: 0, pending: 0, requests: 0, failedRequests: 0, parseErrors: 0, cpuMs: 0 };
  let current: string[] = [];
  const ready: string[][] = [];
  let inFlight = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let drainWaiter: (() => void) | undefined;

  const snapshot = (): DiyCounters => {
    const cpu = process.cpuUsage(cpu0);
    return { ...counters, cpuMs: (cpu.user + cpu.system) / 1000 };
  };

  function post(lines: string[]): void {
    inFlight += 1;
    counters.requests += 1;
    const body = lines.join('\n');
    const done = (ok: boolean): void => {
      inFlight -= 1;
      if (ok) {
        counters.written += lines.length;
        counters.pending -= lines.length;
      } else {
        counters.failedRequests += 1;
        ready.unshift(lines);
        retryTimer ??= setTimeout(() => {
          retryTimer = undefined;
          pump();
        }, 1000);
      }
      pump();
    };
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          done(res.statusCode === 204);
        });
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      done(false);
    });
    req.end(body);
  }

  function pump(): void {
    while (retryTimer === undefined && inFlight < cfg.maxInFlight && ready.length > 0) {
      const lines = ready.shift();
      if (lines) post(lines);
    }
    if (drainWaiter !== undefined && inFlight === 0 && ready.length === 0 && current.length === 0) {
      const w = drainWaiter;
      drainWaiter = undefined;
      w();
    }
  }

  function cut(): void {
    if (current.length === 0) return;
    ready.push(current);
    current = [];
    pump();
  }

  const client: MqttClient = mqtt.connect(cfg.mqttUrl, {
    protocolVersion: 4,
    clientId: cfg.username,
    username: cfg.username,
    password: cfg.password,
    clean: true,
    keepalive: 60,
    reconnectPeriod: 0,
  });
  client.on('message', (topic, payload) => {
    counters.received += 1;
    let line: string;
    try {
      line = diyLine(topic, payload);
    } catch {
      counters.parseErrors += 1;
      return;
    }
    counters.pending += 1;
    current.push(line);
    if (current.length >= cfg.batchSize) cut();
  });
  client.on('error', (err) => {
    send({ type: 'fatal', message: `subscriber: ${err.message}` });
  });
  client.once('connect', () => {
    client.subscribe('tryggheim/v1/devices/+/up', { qos: 1 }, (err, granted) => {
      if (err || granted?.[0]?.qos !== 1) {
        send({ type: 'fatal', message: `subscribe failed: ${err?.message ?? JSON.stringify(granted)}` });
        return;
      }
      send({ type: 'ready' });
    });
  });
  const flush = setInterval(cut, cfg.flushMs);
  const progress = setInterval(() => {
    send({ type: 'progress', counters: snapshot() });
  }, 500);

  process.on('message', (raw: unknown) => {
    const msg = raw as DiyParentMessage;
    if (msg.type === 'snapshot') {
      send({ type: 'snapshot', counters: snapshot() });
    } else if (msg.type === 'drain') {
      new Promise<void>((resolve) => {
        drainWaiter = resolve;
        cut();
        pump();
      }).then(
        () => {
          send({ type: 'drained', counters: snapshot() });
        },
        () => undefined,
      );
    } else if (msg.type === 'close') {
      clearInterval(flush);
      clearInterval(progress);
      client.end(false, {}, () => {
        agent.destroy();
        process.exit(0);
      });
    }
  });
}

process.once('message', (raw: unknown) => {
  const msg = raw as DiyParentMessage;
  if (msg.type === 'init') run(msg);
  else send({ type: 'fatal', message: `expected init, got ${msg.type}` });
});

process.on('disconnect', () => {
  process.exit(0);
});
