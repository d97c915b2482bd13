import mqtt, { type MqttClient } from 'mqtt';
import { createRecordingWriter, type RecordingWriter } from './recording.js';
import { TOPIC_ROOT, type ClientKind } from './types.js';

// Records live MQTT traffic with an observer account (registry kind `observer`: it may read device `up` and
// `status` and bridge topics, never publish) into a recording (recording.ts). Everything the observer may
// read, or the devices and hubs named (one device, or one home's devices and its hub).
//
// Only live traffic is recorded: retained messages the broker hands over at SUBSCRIBE are state from before
// the recording started. aedes 1.2.0 can fail to forward a live retained message (a status) at all: it
// stores it first (level persistence, asynchronous), a later message overtakes it, and its per-subscriber
// duplicate check (brokerCounter) then discards it. Reading a recording copes with a missing status
// (recording.ts); data messages are not retained and arrive. Live messages reach a subscriber with retain 0 in MQTT 3.1.1 [MQTT-3.3.1-9], so a
// recording cannot tell which data messages were retained; status messages are replayed as connect/drop,
// which restores their retained state (recording.ts).

export interface RecorderOptions {
  /** `mqtt://host:port` */
  broker: string;
  /** The observer's id (username = client id) and secret. */
  username: string;
  password: string;
  /** Device or bridge ids to record; absent or empty: everything the observer may read. */
  devices?: readonly string[];
  /** The recording file. */
  out: string;
  source?: string;
  timeZone?: string;
  /** Filters per SUBSCRIBE (the broker caps it; default 8, the gateway's default cap). */
  maxFiltersPerSubscribe?: number;
  connectTimeoutMs?: number;
  /** Called for every recorded message (a progress counter). */
  onMessage?: (lines: number) => void;
}

export interface RecordSummary {
  readonly file: string;
  readonly lines: number;
  readonly clients: number;
  readonly start: string;
  readonly elapsedMs: number;
  /** Retained messages handed over at SUBSCRIBE, not recorded. */
  readonly retainedSkipped: number;
  /** Times the observer's connection was lost and re-established (messages in the gaps are missing). */
  readonly reconnects: number;
}

export interface Recorder {
  /** Stops recording and writes the file. */
  stop(): Promise<RecordSummary>;
  lines(): number;
}

/** The observer could not connect or subscribe; the message says why. */
export class RecorderError extends Error {
  override readonly name = 'RecorderError';
}

/** The filters for a set of ids: each id's device topics and its hub topics (an id is one or the other). */
export function observerFilters(devices: readonly string[] = []): string[] {
  if (devices.length === 0) return [`${TOPIC_ROOT}/devices/+/up`, `${TOPIC_ROOT}/devices/+/status`, `${TOPIC_ROOT}/bridges/#`];
  return devices.flatMap((id) => [`${TOPIC_ROOT}/devices/${id}/up`, `${TOPIC_ROOT}/devices/${id}/status`, `${TOPIC_ROOT}/bridges/${id}/#`]);
}

/** Whose message a topic is: `tryggheim/v1/devices/{id}/…` is device id's, `…/bridges/{id}/…` bridge id's. */
export function topicOwner(topic: string): { client: string; kind: ClientKind } | undefined {
  const parts = topic.split('/');
  if (parts.length < 5 || parts[0] !== 'tryggheim' || parts[1] !== 'v1' || parts[3] === '' || parts[3] === undefined) return undefined;
  if (parts[2] === 'devices') return { client: parts[3], kind: 'device' };
  if (parts[2] === 'bridges') return { client: parts[3], kind: 'bridge' };
  return undefined;
}

/** Connects, subscribes, and records until `stop()`. Resolves once subscribed, so nothing after that is missed. */
export async function startRecorder(opts: RecorderOptions): Promise<Recorder> {
  const filters = observerFilters(opts.devices);
  const client: MqttClient = mqtt.connect(opts.broker, {
    protocolVersion: 4,
    clientId: opts.username,
    username: opts.username,
    password: opts.password,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    resubscribe: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => reject(err));
      setTimeout(() => reject(new Error('no CONNACK in time')), (opts.connectTimeoutMs ?? 10_000) + 1000);
    });
  } catch (err) {
    client.end(true);
    const code = (err as { code?: unknown }).code;
    const why =
      typeof code === 'number'
        ? `the broker refused the observer (CONNACK ${code}: ${err instanceof Error ? err.message : ''})`
        : String(err);
    throw new RecorderError(`cannot connect as ${opts.username}: ${why}`, { cause: err });
  }

  const perfStart = performance.now();
  const start = Date.now();
  // Monotonic offsets: an NTP step during a recording must not move lines in time.
  const now = (): number => start + (performance.now() - perfStart);
  const writer: RecordingWriter = createRecordingWriter(opts.out, {
    start,
    source: opts.source ?? `sim record ${opts.devices?.length ? opts.devices.join(' ') : '(everything)'}`,
    timeZone: opts.timeZone,
  });
  let retainedSkipped = 0;
  let reconnects = 0;
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) {
      retainedSkipped += 1;
      return;
    }
    const owner = topicOwner(topic);
    if (owner === undefined) return;
    writer.write({ at: now(), client: owner.client, kind: owner.kind, topic, qos: packet.qos, retain: false, payload });
    opts.onMessage?.(writer.lines());
  });
  client.on('reconnect', () => (reconnects += 1));
  client.on('error', () => undefined); // reconnects are counted; the summary reports them

  try {
    const chunk = Math.max(1, opts.maxFiltersPerSubscribe ?? 8);
    for (let i = 0; i < filters.length; i += chunk) {
      // QoS 2: a message arrives at the QoS it was published with (the grant caps it), so the line keeps it.
      const part = Object.fromEntries(filters.slice(i, i + chunk).map((f) => [f, { qos: 2 as const }]));
      const granted = await client.subscribeAsync(part).catch((err: unknown) => {
        const codes = (err as { packet?: { granted?: number[] } }).packet?.granted;
        if (codes) return codes.map((qos) => ({ qos }));
        throw err;
      });
      const denied = Object.keys(part).filter((_, k) => (granted[k]?.qos ?? 128) >= 128);
      if (denied.length > 0) {
        throw new RecorderError(
          `the broker refused ${denied.join(', ')}: is ${opts.username} an observer account (devices add --kind observer)?`,
        );
      }
    }
  } catch (err) {
    client.end(true);
    await writer.abort();
    throw err instanceof RecorderError
      ? err
      : new RecorderError(`cannot subscribe: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  let stopped: Promise<RecordSummary> | undefined;
  return {
    lines: () => writer.lines(),
    stop() {
      stopped ??= (async () => {
        await Promise.race([client.endAsync(false), new Promise((r) => setTimeout(r, 5000))]);
        client.end(true);
        const { lines, clients } = await writer.close();
        return {
          file: opts.out,
          lines,
          clients,
          start: new Date(start).toISOString(),
          elapsedMs: Math.round(performance.now() - perfStart),
          retainedSkipped,
          reconnects,
        };
      })();
      return stopped;
    },
  };
}
