import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import { ADAPTERS } from '../../../adapters/registry.js';
import type { Gateway } from '../../../gateway/main.js';
import { badPayloads } from '../../adapters/bad-payloads.js';
import { fixtureCases } from '../../adapters/fixtures.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';

// The adapters' generated bad payloads (test/adapters/bad-input.test.ts feeds 10,000 per adapter to decode
// directly) sent through the real path: MQTT → journal → decode. Every one is acknowledged, dead-lettered
// with a reason and its bytes, nothing reaches the rules or storage, and the gateway keeps serving. Payloads
// over the broker's packet cap (the 1 MB strings) never get that far: the broker closes the connection, and
// the device was never told they were received — test/broker/oversize-flood.timing.test.ts covers that.

const PER_ADAPTER = 300;
type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway;
const written: string[] = [];
const events: CanonicalEvent[] = [];

beforeAll(async () => {
  gw = await startTestGateway(
    { influx: { flushIntervalMs: 50 } },
    { storage: { sink: { write: (lines) => Promise.resolve(void written.push(...lines)) }, toLine: (e) => e.eventId } },
  );
  gw.events.on('events', (evs) => events.push(...evs));
});
afterAll(async () => {
  await gw.close();
  removeDir(gw.dataDir);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('bad payloads through the whole ingest path (storage stand-in)', () => {
  it.each(ADAPTERS.map((a) => [a.id, a] as const))('%s: every accepted bad payload is dead-lettered with a reason', async (id, adapter) => {
    const isBridge = adapter.deviceClasses.includes('bridge');
    const deviceId = `d-bad-${id}`.slice(0, 60);
    const { secret } = gw.registry.addDevice({ id: deviceId, kind: isBridge ? 'bridge' : 'sensor', model: 'fuzz', adapterId: id });
    const seeds = fixtureCases(id)
      .filter((c) => c.expected.ok)
      .map((c) => c.input);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
      clientId: deviceId,
      username: deviceId,
      password: secret,
      reconnectPeriod: 0,
    });
    const before = Object.values(gw.ingest.stats.deadLetters).reduce((a, b) => a + b, 0);
    let sent = 0;
    for (const { input } of badPayloads(adapter, seeds, PER_ADAPTER)) {
      if (input.payload.length > gw.config.broker.limits.maxPacketBytes - 512) continue; // refused by the broker, see above
      const topic = isBridge ? `tryggheim/v1/bridges/${deviceId}/${input.subtopic}` : `tryggheim/v1/devices/${deviceId}/up`;
      await client.publishAsync(topic, Buffer.from(input.payload), { qos: 1 });
      sent += 1;
    }
    await client.endAsync();
    const deadline = Date.now() + 20_000;
    const dead = (): number => Object.values(gw.ingest.stats.deadLetters).reduce((a, b) => a + b, 0) - before;
    const stored = () =>
      gw.journal.db.prepare('SELECT reason, count(*) AS n FROM dead_letters WHERE principal_id = ? GROUP BY reason').all(deviceId) as {
        reason: string;
        n: number;
      }[];
    // The moves are committed by the journal's writer thread a moment after they are counted.
    while ((dead() < sent || gw.journal.count() > 0 || stored().reduce((a, r) => a + r.n, 0) < sent) && Date.now() < deadline)
      await sleep(50);
    expect(sent).toBeGreaterThan(PER_ADAPTER * 0.9);
    expect(dead()).toBe(sent);
    const rows = stored();
    expect(rows.reduce((a, r) => a + r.n, 0)).toBe(sent);
    for (const r of rows) expect(['malformed', 'invalid_payload', 'unsupported', 'oversized', 'unknown_child']).toContain(r.reason);
    expect(events.filter((e) => e.deviceId === deviceId)).toEqual([]);
    expect(written).toEqual([]);
    expect(gw.journal.count()).toBe(0);
    // Still serving: the broker and HTTP answer.
    expect((await fetch(`http://127.0.0.1:${gw.http.address.port}/readyz`)).status).toBe(200);
  });
});
