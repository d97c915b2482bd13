// Memory-exhaustion guard: aedes (mqtt-packet) buffers a packet until its declared remaining length has
// arrived, with no upper bound and even before CONNECT. The broker's byte-level guard must close a socket as
// soon as its fixed header declares more than the limit (maxConnectBytes before authentication,
// maxPacketBytes after), without buffering the body. The broker runs in this process, so its memory is
// process.memoryUsage().rss here; the attacking sockets run in a child process (see FLOOD_CHILD).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConnect, buildPublish, encodeVarint, PacketType, PINGREQ, RawClient, splitPackets } from '../support/raw-mqtt.js';
import { startTestBroker, vectorBrokerOptions, type TestBroker } from './vectors/broker-setup.js';

const LIMITS = vectorBrokerOptions().limits;
const SOCKETS = 50;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
/** A CONNECT declaring 268 435 455 bytes (~256 MiB), the largest remaining length MQTT can express. */
const HUGE_CONNECT_HEADER = Buffer.concat([Buffer.from([0x10]), encodeVarint(268_435_455)]);
/** Same, but as the five-byte varint for exactly 256 MiB, which MQTT forbids ([MQTT-2.2.3]). */
const MALFORMED_CONNECT_HEADER = Buffer.concat([Buffer.from([0x10]), encodeVarint(256 * 1024 * 1024)]);
const CLOSE_WITHIN_MS = 100;
/** Hard stop for one flooding socket, so a broker that never closes fails the test instead of hanging it. */
const FLOOD_MAX_MS = 3000;
const RSS_GROWTH_MAX = 30 * 1024 * 1024;

/**
 * The attacking clients run in a child process of their own: flooding 50 sockets from this process would
 * spend this event loop (which is also the broker's) copying chunks, and time the harness instead of the
 * broker. The child connects every socket and reports 'connected'; on 'go' it writes each socket's header
 * and then streams 64 KiB chunks as fast as the socket takes them until the broker closes it, timing each
 * socket from its header write to 'close'. Plain JavaScript run with `node -e`: no build step, no extra file.
 */
const FLOOD_CHILD = String.raw`
const net = require('node:net');
const cfg = JSON.parse(process.env.FLOOD_CFG);
const header = Buffer.from(cfg.headerHex, 'hex');
const chunk = Buffer.alloc(cfg.chunkSize, 0x61);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const connectOne = () => new Promise((resolve, reject) => {
  const s = net.connect({ port: cfg.port, host: cfg.host });
  s.once('error', reject);
  s.once('connect', () => { s.removeAllListeners('error'); s.on('error', () => {}); resolve(s); });
});
Promise.all(Array.from({ length: cfg.sockets }, connectOne)).then((socks) => {
  out({ type: 'connected' });
  process.stdin.once('data', () => {
    const st = socks.map((s) => ({ s, t0: 0, closedAt: null, bytes: 0 }));
    let open = st.length;
    const finish = () => {
      out({ type: 'result', results: st.map((x) => ({ closedAfterMs: x.closedAt === null ? null : x.closedAt - x.t0, bytesAccepted: x.bytes })) });
      process.exit(0);
    };
    const timer = setTimeout(finish, cfg.maxMs);
    for (const x of st) {
      x.s.once('close', () => { x.closedAt = performance.now(); if (--open === 0) { clearTimeout(timer); finish(); } });
    }
    for (const x of st) {
      const pump = () => { while (!x.s.destroyed && x.s.writable) { x.bytes += chunk.length; if (!x.s.write(chunk)) return; } };
      x.s.on('drain', pump);
      x.t0 = performance.now();
      x.s.write(header);
      pump();
    }
  });
}, (err) => { out({ type: 'error', message: String(err) }); process.exit(1); });
`;

interface FloodResult {
  /** Header write to 'close', ms; null when the broker did not close within FLOOD_MAX_MS. */
  closedAfterMs: number | null;
  /** Bytes the socket took (mostly into the kernel's socket buffers) before the close. */
  bytesAccepted: number;
}

interface ChildMessage {
  type: string;
  message?: string;
  results?: FloodResult[];
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

/** Starts the flooding child and waits until its sockets are connected; `go()` floods and returns one result per socket. */
async function floodFromChild(port: number, sockets: number, header: Buffer): Promise<{ go: () => Promise<FloodResult[]> }> {
  const child = spawn(process.execPath, ['-e', FLOOD_CHILD], {
    env: {
      ...process.env,
      FLOOD_CFG: JSON.stringify({
        port,
        host: '127.0.0.1',
        sockets,
        headerHex: header.toString('hex'),
        chunkSize: CHUNK.length,
        maxMs: FLOOD_MAX_MS,
      }),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  const messages: ChildMessage[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    messages.push(JSON.parse(line) as ChildMessage);
    wake?.();
  });
  child.once('exit', () => wake?.());
  const next = async (type: string, timeoutMs: number): Promise<ChildMessage> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = messages.find((x) => x.type === type || x.type === 'error');
      if (m?.type === 'error') throw new Error(`flood child: ${m.message ?? ''}`);
      if (m) return m;
      if (child.exitCode !== null) throw new Error(`flood child exited (${child.exitCode}) before '${type}'`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`flood child: no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.min(left, 50));
      });
    }
  };
  await next('connected', 10_000);
  return {
    go: async () => {
      child.stdin.write('go\n');
      return (await next('result', FLOOD_MAX_MS + 5000)).results ?? [];
    },
  };
}

async function rssAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return process.memoryUsage().rss;
}

describe('oversized packets before authentication (production policy)', () => {
  let broker: TestBroker | undefined;

  beforeAll(async () => {
    broker = await startTestBroker('production');
  });
  afterAll(async () => {
    await broker?.close();
  });

  it(`closes ${SOCKETS} sockets declaring a 256 MiB CONNECT within ${CLOSE_WITHIN_MS} ms each, without the memory`, async () => {
    if (!broker) throw new Error('broker did not start');
    const { port, handle } = broker;
    // Warm-up: one socket through the same path, so that first-call costs (JIT, lazy init) are not charged
    // to the measured sockets.
    await (await floodFromChild(port, 1, HUGE_CONNECT_HEADER)).go();

    const attack = await floodFromChild(port, SOCKETS, HUGE_CONNECT_HEADER);
    const tooLargeBefore = handle.stats.packetsRefused.too_large;
    const rssBefore = await rssAfterGc();
    const results = await attack.go();
    const rssAfter = await rssAfterGc();

    const slow = results.flatMap((r, i) => (r.closedAfterMs === null || r.closedAfterMs >= CLOSE_WITHIN_MS ? [{ socket: i, ...r }] : []));
    const closed = results.flatMap((r) => (r.closedAfterMs === null ? [] : [r.closedAfterMs])).sort((a, b) => a - b);
    console.info(
      `[oversize-flood] ${results.length} sockets: closed ${closed.length}, max ${(closed.at(-1) ?? NaN).toFixed(1)} ms, ` +
        `median ${(closed[Math.floor(closed.length / 2)] ?? NaN).toFixed(1)} ms after the header; ` +
        `bytes taken before close: max ${Math.max(...results.map((r) => r.bytesAccepted))} per socket; ` +
        `broker process RSS ${((rssAfter - rssBefore) / 1048576).toFixed(1)} MiB growth ` +
        `(gc ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'forced' : 'not exposed'})`,
    );

    expect(results).toHaveLength(SOCKETS);
    expect(slow, `sockets not closed within ${CLOSE_WITHIN_MS} ms of the header`).toEqual([]);
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_MAX);
    // It was the size guard that closed them, not some other failure.
    expect(handle.stats.packetsRefused.too_large - tooLargeBefore).toBe(SOCKETS);
    expect(handle.isListening()).toBe(true);
  }, 30_000);

  it('closes CONNECTs whose remaining length is a five-byte varint (malformed) just as fast', async () => {
    if (!broker) throw new Error('broker did not start');
    const malformedBefore = broker.handle.stats.packetsRefused.malformed;
    const results = await (await floodFromChild(broker.port, 5, MALFORMED_CONNECT_HEADER)).go();
    expect(results).toHaveLength(5);
    for (const r of results) {
      expect(r.closedAfterMs).not.toBeNull();
      expect(r.closedAfterMs ?? Infinity).toBeLessThan(CLOSE_WITHIN_MS);
    }
    expect(broker.handle.stats.packetsRefused.malformed - malformedBefore).toBe(5);
  }, 30_000);
});

describe('oversized PUBLISH after authentication (open test policy)', () => {
  let broker: TestBroker | undefined;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    broker = await startTestBroker('open-test');
  });
  afterEach(() => {
    for (const c of clients) c.destroy();
    clients.length = 0;
  });
  afterAll(async () => {
    await broker?.close();
  });

  async function connected(clientId: string): Promise<RawClient> {
    if (!broker) throw new Error('broker did not start');
    const c = await RawClient.connect(broker.port);
    clients.push(c);
    c.write(buildConnect({ clientId, keepaliveSec: 60 }));
    const connack = await c.readPacket(2000);
    expect(connack?.bytes).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    return c;
  }

  it(`closes a client that declares a PUBLISH larger than maxPacketBytes (${LIMITS.maxPacketBytes})`, async () => {
    const c = await connected('flood-big');
    const tooLargeBefore = broker?.handle.stats.packetsRefused.too_large ?? 0;
    const remaining = LIMITS.maxPacketBytes + 1;
    const header = Buffer.concat([Buffer.from([0x32]), encodeVarint(remaining)]);
    const t0 = performance.now();
    c.write(header);
    // Stream the body in chunks until the broker closes (bounded: at most the declared size).
    let sent = 0;
    while (!c.closedInfo() && sent < remaining) {
      c.write(CHUNK.subarray(0, Math.min(CHUNK.length, remaining - sent)));
      sent += CHUNK.length;
      await c.waitForActivity(5);
    }
    expect(await c.waitForClose(2000)).toBe(true);
    const closedAfter = c.connectedAt + (c.closedInfo()?.atMs ?? Infinity) - t0;
    console.info(
      `[oversize-flood] oversized PUBLISH closed ${closedAfter.toFixed(1)} ms after its header, ${Math.min(sent, remaining)} body bytes written`,
    );
    expect(closedAfter).toBeLessThan(CLOSE_WITHIN_MS);
    // Nothing after the CONNACK (no PUBACK for it), and it was the size guard that closed the connection.
    expect(splitPackets(c.receivedAll()).packets.map((p) => p.type)).toEqual([PacketType.CONNACK]);
    expect((broker?.handle.stats.packetsRefused.too_large ?? 0) - tooLargeBefore).toBe(1);
  }, 20_000);

  it('accepts a QoS 1 PUBLISH just under maxPacketBytes (PUBACK), and the connection stays usable', async () => {
    const c = await connected('flood-ok');
    const topic = 'flood/just-under';
    // Size the payload so that the whole packet is one byte under the limit.
    const overhead = buildPublish({ topic, qos: 1, messageId: 7, payload: '' }).length;
    let payloadLen = LIMITS.maxPacketBytes - 1 - overhead;
    let packet = buildPublish({ topic, qos: 1, messageId: 7, payload: Buffer.alloc(payloadLen, 0x62) });
    // The remaining-length varint may have grown by a byte; shrink the payload to compensate.
    payloadLen -= packet.length - (LIMITS.maxPacketBytes - 1);
    packet = buildPublish({ topic, qos: 1, messageId: 7, payload: Buffer.alloc(payloadLen, 0x62) });
    expect(packet.length).toBe(LIMITS.maxPacketBytes - 1);

    c.write(packet);
    const puback = await c.readPacket(5000);
    expect(puback?.type).toBe(PacketType.PUBACK);
    expect(puback?.bytes).toEqual(Buffer.from([0x40, 0x02, 0x00, 0x07]));
    c.write(PINGREQ);
    expect((await c.readPacket(2000))?.type).toBe(PacketType.PINGRESP);
    expect(c.closedInfo()).toBeUndefined();
  }, 20_000);
});
