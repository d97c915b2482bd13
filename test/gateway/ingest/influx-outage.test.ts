import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../gateway/config/load.js';
import { createLogger } from '../../../gateway/log.js';
import type { Gateway } from '../../../gateway/main.js';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { startPublishers, storedSeqs, type Publishers } from '../../support/publishers.js';

// InfluxDB outages during steady ingest (the outage test): influxd frozen with SIGSTOP for 60 s, and
// killed with SIGKILL and restarted after 60 s. Every message a device saw acknowledged must be queryable
// within 60 s after InfluxDB is back. Real broker, real journal, real influxd; ~75 s per case.

const OUTAGE_MS = 60_000;
const DEVICES = 5;
const RATE = 20; // messages per second per device

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let influxd: TestInfluxd | undefined;
let gw: TestGateway | undefined;
let pubs: Publishers | undefined;
afterEach(async () => {
  await pubs?.stop();
  await gw?.close();
  if (gw) removeDir(gw.dataDir);
  await influxd?.stop();
  pubs = undefined;
  gw = undefined;
  influxd = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function setup(): Promise<{ influxd: TestInfluxd; gw: TestGateway; pubs: Publishers }> {
  influxd = await startInfluxd();
  const influx = { url: influxd.url, apiVersion: 'v1' as const, flushIntervalMs: 200, timeoutMs: 2000 };
  const w = await createInfluxWriter({ ...loadConfig({ env: {} }).influx, ...influx }, { logger: createLogger({ level: 'silent' }) });
  await w.ensureDatabase();
  await w.close();
  gw = await startTestGateway({ influx });
  const devices = Array.from({ length: DEVICES }, (_, i) => {
    const id = `d-out-${i}`;
    return { id, secret: (gw as TestGateway).registry.addDevice({ id, kind: 'sensor', model: 'demo', adapterId: 'tryggheim' }).secret };
  });
  pubs = await startPublishers({ url: `mqtt://127.0.0.1:${gw.mqttPort}`, devices, ratePerDevice: RATE });
  return { influxd, gw, pubs };
}

/** Waits (bounded) until every acknowledged (device, seq) is queryable; returns what is still missing. */
async function missingAfter(ms: number, p: Publishers, url: string): Promise<{ missing: number; acked: number; duplicates: number }> {
  const deadline = Date.now() + ms;
  for (;;) {
    let missing = 0;
    let acked = 0;
    let duplicates = 0;
    for (const [device, seqs] of p.acked) {
      const stored = await storedSeqs(url, 'tryggheim', device);
      const set = new Set(stored);
      duplicates += stored.length - set.size;
      acked += seqs.size;
      for (const s of seqs) if (!set.has(s)) missing += 1;
    }
    if (missing === 0 || Date.now() > deadline) return { missing, acked, duplicates };
    await sleep(500);
  }
}

describe('InfluxDB outage during steady ingest', () => {
  it('SIGSTOP for 60 s: every acknowledged message is queryable within 60 s after SIGCONT', async () => {
    const { influxd: db, gw: g, pubs: p } = await setup();
    await sleep(2000);
    db.pause();
    await sleep(OUTAGE_MS);
    expect(g.journal.count()).toBeGreaterThan(0); // the journal held the outage
    db.resume();
    await sleep(2000);
    await p.stop();
    const result = await missingAfter(60_000, p, db.url);
    expect(result.acked).toBeGreaterThan(DEVICES * RATE * 50);
    expect(result).toMatchObject({ missing: 0, duplicates: 0 });
  }, 200_000);

  it('SIGKILL, restarted after 60 s: every acknowledged message is queryable within 60 s after the restart', async () => {
    const { influxd: db, gw: g, pubs: p } = await setup();
    await sleep(2000);
    db.kill('SIGKILL');
    await sleep(OUTAGE_MS);
    expect(g.journal.count()).toBeGreaterThan(0);
    await db.restart();
    await sleep(2000);
    await p.stop();
    const result = await missingAfter(60_000, p, db.url);
    expect(result.acked).toBeGreaterThan(DEVICES * RATE * 50);
    expect(result).toMatchObject({ missing: 0, duplicates: 0 });
  }, 200_000);
});
