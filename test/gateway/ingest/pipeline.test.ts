import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import type { Gateway } from '../../../gateway/main.js';
import type { StorageSink } from '../../../gateway/ingest/pipeline.js';
import { removeDir, run, startTestGateway } from '../../support/gateway.js';

// The ingest path through a real broker, registry and journal. The InfluxDB side is a recording sink here
// ("storage sink stand-in" in the names); test/gateway/storage/* runs the same path against a real influxd.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  for (const d of dirs.splice(0)) removeDir(d);
});

function recordingSink(): StorageSink & { lines: string[]; fail: boolean } {
  const sink = {
    lines: [] as string[],
    fail: false,
    write(lines: readonly string[]) {
      if (sink.fail) return Promise.reject(Object.assign(new Error('influx down (stand-in)'), { retryable: true }));
      sink.lines.push(...lines);
      return Promise.resolve();
    },
  };
  return sink;
}
const toLine = (e: CanonicalEvent): string => `${e.body.type},device_id=${e.deviceId} event_id="${e.eventId}"`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
}

/** An mqtt.js client for a device of the gateway, no reconnects (the tests end it themselves). */
function connectDevice(g: TestGateway, id: string, secret: string): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${g.mqttPort}`, { clientId: id, username: id, password: secret, reconnectPeriod: 0 });
}

async function gateway(sink: StorageSink, dataDir?: string): Promise<TestGateway> {
  gw = await startTestGateway({ influx: { flushIntervalMs: 50 } }, { storage: { sink, toLine }, ...(dataDir ? { dataDir } : {}) });
  if (!dataDir) dirs.push(gw.dataDir);
  return gw;
}

describe('ingest pipeline (storage sink stand-in)', () => {
  it('journals, decodes to canonical events on the bus, writes them and empties the journal', async () => {
    const sink = recordingSink();
    const g = await gateway(sink);
    g.registry.addHome({ id: 'home-0001', teamId: 'team-north' });
    const { secret } = g.registry.addDevice({
      id: 'd-0001',
      kind: 'dispenser',
      model: 'demo',
      adapterId: 'tryggheim',
      homeId: 'home-0001',
    });
    const seen: CanonicalEvent[] = [];
    g.events.on('events', (evs) => seen.push(...evs));
    const pub = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(g.mqttPort),
      '-i',
      'd-0001',
      '-u',
      'd-0001',
      '-P',
      secret,
      '-q',
      '1',
      '-t',
      'tryggheim/v1/devices/d-0001/up',
      '-m',
      '{"type":"dose.taken","ts":"2026-11-23T08:02:11Z","seq":7,"slot":"08:00"}',
    ]);
    expect(pub.code).toBe(0);
    await until(() => sink.lines.length === 1 && g.journal.count() === 0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      deviceId: 'd-0001',
      homeId: 'home-0001',
      adapter: { id: 'tryggheim', version: 1 },
      observedAt: '2026-11-23T08:02:11.000Z',
      seq: 7,
      body: { type: 'dose', kind: 'taken', slot: '08:00' },
    });
    expect(sink.lines[0]).toBe(`dose,device_id=d-0001 event_id="${seen[0]?.eventId ?? ''}"`);
    expect(g.journal.count()).toBe(0);
  });

  it('dead-letters what cannot be decoded, with reason, and keeps going', async () => {
    const sink = recordingSink();
    const g = await gateway(sink);
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim' });
    const c = await connectDevice(g, 'd-0001', secret);
    await c.publishAsync('tryggheim/v1/devices/d-0001/up', 'not json', { qos: 1 });
    await c.publishAsync('tryggheim/v1/devices/d-0001/up', '{"type":"measurement","temperature_c":"warm"}', { qos: 1 });
    await c.publishAsync('tryggheim/v1/devices/d-0001/up', '{"type":"measurement","temperature_c":21.5}', { qos: 1 });
    await c.endAsync();
    await until(() => sink.lines.length === 1 && g.journal.count() === 0);
    expect(g.ingest.stats.deadLetters.malformed).toBe(1);
    expect(g.ingest.stats.deadLetters.invalid_payload).toBe(1);
    const rows = g.journal.db.prepare('SELECT reason, principal_id, payload FROM dead_letters ORDER BY id').all() as {
      reason: string;
      principal_id: string;
      payload: Buffer;
    }[];
    expect(rows.map((r) => [r.reason, r.principal_id, r.payload.toString()])).toEqual([
      ['malformed', 'd-0001', 'not json'],
      ['invalid_payload', 'd-0001', '{"type":"measurement","temperature_c":"warm"}'],
    ]);
    const metrics = await (await fetch(`http://127.0.0.1:${g.http.address.port}/metrics`)).text();
    expect(metrics).toContain('tryggheim_ingest_dead_letters_total{reason="malformed"} 1');
    expect(metrics).toContain('tryggheim_ingest_messages_total 3');
    expect(metrics).toContain('tryggheim_journal_entries 0');
  });

  it('keeps everything in the journal while storage fails, and writes it all when it recovers', async () => {
    const sink = recordingSink();
    sink.fail = true;
    const g = await gateway(sink);
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim' });
    const health: string[] = [];
    g.events.on('gateway-health', (h) => health.push(`${h.check}:${h.state}`));
    const c = await connectDevice(g, 'd-0001', secret);
    for (let i = 0; i < 20; i++)
      await c.publishAsync('tryggheim/v1/devices/d-0001/up', JSON.stringify({ type: 'measurement', seq: i, temperature_c: 20 + i / 10 }), {
        qos: 1,
      });
    await c.endAsync();
    await sleep(300);
    expect(g.journal.count()).toBe(20);
    expect(health).toContain('influx:unreachable');
    sink.fail = false;
    await until(() => g.journal.count() === 0, 10_000);
    expect(sink.lines).toHaveLength(20);
    expect(health).toContain('influx:ok');
  });

  it('after a restart, entries still in the journal are written (and not lost)', async () => {
    const sink = recordingSink();
    sink.fail = true;
    let g = await gateway(sink);
    const dataDir = g.dataDir;
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim' });
    const c = await connectDevice(g, 'd-0001', secret);
    for (let i = 0; i < 5; i++)
      await c.publishAsync('tryggheim/v1/devices/d-0001/up', JSON.stringify({ type: 'status', seq: i, battery_pct: 90 - i }), { qos: 1 });
    await c.endAsync();
    await g.close();
    const healthy = recordingSink();
    g = await gateway(healthy, dataDir);
    await until(() => g.journal.count() === 0);
    expect(healthy.lines).toHaveLength(5);
  });

  it('stops while a write is in flight: waits for it, then closes (storage sink stand-in holds the write)', async () => {
    let release: (() => void) | undefined;
    let started = 0;
    const sink: StorageSink = {
      write() {
        started += 1;
        return new Promise<void>((resolve) => (release = resolve));
      },
    };
    const g = await gateway(sink);
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim' });
    const c = await connectDevice(g, 'd-0001', secret);
    await c.publishAsync('tryggheim/v1/devices/d-0001/up', JSON.stringify({ type: 'status', seq: 1, battery_pct: 90 }), { qos: 1 });
    await c.endAsync();
    await until(() => started === 1);
    expect(started).toBe(1);
    const stopped = g.ingest.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await sleep(100);
    expect(done).toBe(false); // the write is still in flight
    release?.();
    // Bounded: a stop that never settles fails here instead of hanging the gateway's shutdown.
    await Promise.race([stopped, sleep(3000)]);
    expect(done).toBe(true);
    // The confirmed write's entry leaves the journal (the writer thread's reply follows a moment later).
    await until(() => g.journal.count() === 0, 2000);
    expect(g.journal.count()).toBe(0);
  });
});
