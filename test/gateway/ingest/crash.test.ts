import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../gateway/config/load.js';
import { databasePath, openDatabase } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';
import { journalPath } from '../../../gateway/ingest/journal.js';
import { createLogger } from '../../../gateway/log.js';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { findFreePort } from '../../../gateway/storage/influxd-process.js';
import { quoteIdent, quoteLiteral, runInfluxQL } from '../../../gateway/storage/influxql.js';
import { GatewayStartError, scrapeMetric, startGatewayProcess, type GatewayProcess } from '../../support/gateway-process.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { prng } from '../../support/prng.js';

// The crash test (docs/adr/006-ack-after-journal.md): the compiled gateway is killed with SIGKILL at
// a random moment during steady ingest (20 devices × 50 msg/s) and restarted on the same data dir and port,
// three times. mqtt.js publishers (QoS 1, reconnecting every 200 ms) record a (device, seq) only when its
// PUBACK arrives, and resend whatever was unacknowledged when the connection dropped. Then every
// acknowledged (device, seq) must be in InfluxDB, each exactly once: a message journaled before the crash
// and resent after it overwrites the same point (its event id and timestamp derive from device, topic,
// payload and device ts). Some messages are also resent on purpose, so every run has duplicates to collapse.
//
// Checked to fail (with copies of dist/ patched, run through CRASH_TEST_CLI): PUBACK before the journal
// append (acknowledged seqs missing), and an event id that depends on the receive time (points stored twice).
//
// The kill moments and pauses come from a seeded PRNG; the seed is printed (CRASH_TEST_SEED=<n> reruns
// with the same schedule — the machine's timing still varies). CRASH_TEST_CLI=<path> runs another build of
// the CLI (e.g. a deliberately broken one, to check that this test fails).

const DEVICES = 20;
const RATE_PER_DEVICE = 50; // messages per second
const DATABASE = 'tryggheim';
const DEVICE_PREFIX = 'd-crash-';

const seed =
  process.env.CRASH_TEST_SEED !== undefined ? Number(process.env.CRASH_TEST_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;

const random = prng(seed);
const between = (lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Publisher {
  readonly id: string;
  readonly client: MqttClient;
  next: number;
  /** Seqs whose PUBACK arrived. */
  readonly acked: Set<number>;
  /** Publishes (originals and resends) not yet answered: mqtt.js keeps them in its outgoing store and resends them after a reconnect. */
  inFlight: number;
  /** PUBACKs for a seq already acknowledged (both copies of a resent message journaled). */
  extraAcks: number;
  /** Failed publish callbacks and the client's 'error' events (e.g. connection refused while the gateway is down). */
  errors: number;
}

/**
 * Every RESEND_EVERY-th message is also published a second time, RESEND_AFTER_MS later, as a new PUBLISH with
 * the same payload: a device resending after a lost PUBACK. Crash timing alone makes such duplicates only
 * sometimes (a kill between the journal's commit and the PUBACK reaching the device); these make sure every
 * run checks that a point written twice is one point.
 */
const RESEND_EVERY = 25;
const RESEND_AFTER_MS = 300;
const resendTimers = new Set<NodeJS.Timeout>();
let resendsPublished = 0;
let resendsAcked = 0;

let influxd: TestInfluxd | undefined;
let dataDir = '';
let gw: GatewayProcess | undefined;
const publishers: Publisher[] = [];
let ticker: NodeJS.Timeout | undefined;
const outputs: string[] = [];
/** Publish callbacks that reported an error, by message (the message is then not acknowledged). */
const publishErrors = new Map<string, number>();

beforeAll(async () => {
  console.log(`crash test seed ${seed} (rerun with CRASH_TEST_SEED=${seed})`);
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-crash-'));
  influxd = await startInfluxd();
  const writer = await createInfluxWriter(
    { ...loadConfig({ env: {} }).influx, url: influxd.url, apiVersion: 'v1', database: DATABASE },
    { logger: createLogger({ level: 'silent' }) },
  );
  await writer.ensureDatabase();
  await writer.close();
}, 30_000);

afterAll(async () => {
  if (ticker) clearInterval(ticker);
  for (const t of resendTimers) clearTimeout(t);
  await Promise.allSettled(publishers.map((p) => p.client.endAsync(true)));
  await gw?.stop(5000);
  await influxd?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Registers the devices before any gateway runs (the registry is closed again before the spawn). */
function provision(): { id: string; secret: string }[] {
  const db = openDatabase(databasePath(dataDir));
  try {
    const registry = createDeviceRegistry({ db });
    return Array.from({ length: DEVICES }, (_, i) => {
      const id = `${DEVICE_PREFIX}${String(i).padStart(2, '0')}`;
      return { id, secret: registry.addDevice({ id, kind: 'sensor', model: 'crash-test', adapterId: 'tryggheim' }).secret };
    });
  } finally {
    db.close();
  }
}

function gatewayEnv(mqttPort: number, influxUrl: string): Record<string, string> {
  return {
    TRYGGHEIM_DATA_DIR: dataDir,
    TRYGGHEIM_LOG__LEVEL: 'info',
    TRYGGHEIM_BROKER__HOST: '127.0.0.1',
    TRYGGHEIM_BROKER__TCP__PORT: String(mqttPort),
    TRYGGHEIM_BROKER__WS__ENABLED: 'false',
    TRYGGHEIM_HTTP__HOST: '127.0.0.1',
    TRYGGHEIM_HTTP__PORT: '0',
    TRYGGHEIM_INFLUX__URL: influxUrl,
    TRYGGHEIM_INFLUX__API_VERSION: 'v1',
    TRYGGHEIM_INFLUX__DATABASE: DATABASE,
    TRYGGHEIM_INFLUX__FLUSH_INTERVAL_MS: '200',
    TRYGGHEIM_INFLUX__TIMEOUT_MS: '5000',
  };
}

const cli = process.env.CRASH_TEST_CLI;

/** First start: a free port of our choosing (so restarts can reuse it); another one if it was taken meanwhile. */
async function startOnFreePort(influxUrl: string): Promise<GatewayProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    try {
      return await startGatewayProcess({ env: gatewayEnv(port, influxUrl), ...(cli ? { cli } : {}) });
    } catch (e) {
      if (!(e instanceof GatewayStartError && e.addressInUse) || attempt >= 5) throw e;
    }
  }
}

/** Restart on the same port: the publishers reconnect to it. Retried briefly if the port is (still) taken. */
async function restartOn(port: number, influxUrl: string): Promise<GatewayProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGatewayProcess({ env: gatewayEnv(port, influxUrl), ...(cli ? { cli } : {}) });
    } catch (e) {
      if (!(e instanceof GatewayStartError && e.addressInUse) || attempt >= 10) throw e;
      await sleep(300);
    }
  }
}

async function connectPublishers(devices: { id: string; secret: string }[], port: number): Promise<void> {
  const clients = await Promise.all(
    devices.map((d) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: d.id,
        username: d.id,
        password: d.secret,
        reconnectPeriod: 200,
        connectTimeout: 5000,
      }),
    ),
  );
  clients.forEach((client, i) => {
    const d = devices[i];
    if (!d) return;
    const p: Publisher = { id: d.id, client, next: 0, acked: new Set(), inFlight: 0, extraAcks: 0, errors: 0 };
    // Connection refused while the gateway is down: expected, the client keeps retrying.
    client.on('error', () => {
      p.errors += 1;
    });
    publishers.push(p);
  });
}

/** Device clock of seq 0, in the recent past (the adapter refuses device times > 24 h ahead); seq n is 10 ms later per step. */
const deviceEpoch = Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000;

function send(p: Publisher, seq: number, payload: string, resend: boolean): void {
  p.inFlight += 1;
  // Publishing goes on while the gateway is down: mqtt.js stores QoS 1 messages and sends them on reconnect.
  p.client.publish(`tryggheim/v1/devices/${p.id}/up`, payload, { qos: 1 }, (err) => {
    p.inFlight -= 1;
    if (err) {
      p.errors += 1;
      publishErrors.set(err.message, (publishErrors.get(err.message) ?? 0) + 1);
      return;
    }
    if (p.acked.has(seq)) p.extraAcks += 1;
    else p.acked.add(seq);
    if (resend) resendsAcked += 1;
  });
}

function publishOne(p: Publisher): void {
  const seq = p.next++;
  const payload = JSON.stringify({
    type: 'measurement',
    ts: new Date(deviceEpoch + seq * 10).toISOString(),
    seq,
    temperature_c: 20 + (seq % 50) / 10,
  });
  send(p, seq, payload, false);
  if (seq % RESEND_EVERY === RESEND_EVERY - 1) {
    const timer = setTimeout(() => {
      resendTimers.delete(timer);
      resendsPublished += 1;
      send(p, seq, payload, true);
    }, RESEND_AFTER_MS);
    resendTimers.add(timer);
  }
}

const totalAcked = (): number => publishers.reduce((n, p) => n + p.acked.size, 0);
const totalExtraAcks = (): number => publishers.reduce((n, p) => n + p.extraAcks, 0);
const totalInFlight = (): number => publishers.reduce((n, p) => n + p.inFlight, 0);
const totalSent = (): number => publishers.reduce((n, p) => n + p.next, 0);

async function storedSeqs(influxUrl: string, deviceId: string): Promise<number[]> {
  const [result] = await runInfluxQL(
    { url: influxUrl, database: DATABASE, timeoutMs: 10_000 },
    `SELECT ${quoteIdent('seq')} FROM ${quoteIdent('sensor')} WHERE ${quoteIdent('device_id')} = ${quoteLiteral(deviceId)}`,
  );
  const values = result?.series?.[0]?.values ?? [];
  return values.map((row) => Number(row[1]));
}

interface Check {
  /** Acknowledged (device, seq) not in InfluxDB. */
  missing: string[];
  /** (device, seq) stored as more than one point. */
  duplicates: string[];
  /** Points in InfluxDB (all rows). */
  rows: number;
  /** Distinct (device, seq) in InfluxDB. */
  distinct: number;
  /** Stored but never acknowledged to the publisher (journaled, ack lost, not resent before the end). */
  storedNotAcked: number;
}

async function check(influxUrl: string): Promise<Check> {
  const out: Check = { missing: [], duplicates: [], rows: 0, distinct: 0, storedNotAcked: 0 };
  const stored = await Promise.all(publishers.map((p) => storedSeqs(influxUrl, p.id)));
  publishers.forEach((p, i) => {
    const seqs = stored[i] ?? [];
    const counts = new Map<number, number>();
    for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
    out.rows += seqs.length;
    out.distinct += counts.size;
    for (const [s, n] of counts) {
      if (n > 1) out.duplicates.push(`${p.id}#${s}×${n}`);
      if (!p.acked.has(s)) out.storedNotAcked += 1;
    }
    for (const s of p.acked) if (!counts.has(s)) out.missing.push(`${p.id}#${s}`);
  });
  return out;
}

interface CrashRecord {
  afterMs: number;
  inFlightAtKill: number;
  ackedAtKill: number;
  sentAtKill: number;
  downMs: number;
  exit: string;
}

describe('gateway crash during ingest (SIGKILL, restart on the same data dir and port)', () => {
  it('every acknowledged (device, seq) is in InfluxDB exactly once; resends collapse', { timeout: 80_000 }, async () => {
    const t0 = Date.now();
    if (!influxd) throw new Error('influxd did not start');
    const influxUrl = influxd.url;
    const devices = provision();

    gw = await startOnFreePort(influxUrl);
    const port = gw.mqttPort;
    await connectPublishers(devices, port);
    // One message every 1/(DEVICES × RATE) s, round-robin over the devices, so that messages are in flight
    // at almost any moment (a burst per device every 20 ms would leave idle gaps for the kill to fall into).
    const publishStart = Date.now();
    let published = 0;
    ticker = setInterval(() => {
      const due = Math.floor(((Date.now() - publishStart) * DEVICES * RATE_PER_DEVICE) / 1000);
      for (; published < due; published++) {
        const p = publishers[published % publishers.length];
        if (p) publishOne(p);
      }
    }, 2);

    const crashes: CrashRecord[] = [];
    const schedule = [
      { runMs: between(1000, 3000), downMs: between(200, 800) },
      { runMs: between(1000, 2000), downMs: between(200, 800) },
      { runMs: between(1000, 2000), downMs: between(200, 800) },
    ];
    for (const step of schedule) {
      const ackedBefore = totalAcked();
      await sleep(step.runMs);
      const current: GatewayProcess = gw;
      // The crash must hit a gateway that is ingesting: acks arrived since the previous restart.
      expect(totalAcked(), 'no message was acknowledged between restart and kill').toBeGreaterThan(ackedBefore);
      // "During ingest": at a moment with messages published and not yet acknowledged (bounded wait).
      const inFlightDeadline = Date.now() + 1000;
      while (totalInFlight() === 0 && Date.now() < inFlightDeadline) await new Promise<void>((r) => setImmediate(r));
      const record = { afterMs: step.runMs, inFlightAtKill: totalInFlight(), ackedAtKill: totalAcked(), sentAtKill: totalSent() };
      current.kill('SIGKILL');
      const exit = await current.exited;
      outputs.push(current.output());
      expect(exit.signal).toBe('SIGKILL');
      await sleep(step.downMs);
      gw = undefined;
      gw = await restartOn(port, influxUrl);
      crashes.push({ ...record, downMs: step.downMs, exit: `signal ${exit.signal}` });
    }

    // Ingest after the last restart, then stop publishing and let every outstanding message be acknowledged.
    const ackedAtLastRestart = totalAcked();
    await sleep(1500);
    clearInterval(ticker);
    ticker = undefined;
    const ackDeadline = Date.now() + 20_000;
    while ((totalInFlight() > 0 || resendTimers.size > 0) && Date.now() < ackDeadline) await sleep(100);
    expect(totalAcked(), 'no message was acknowledged after the last restart').toBeGreaterThan(ackedAtLastRestart);

    // Every acknowledged (device, seq) must become queryable, and the journal drain (a resend whose original
    // is already stored still has its own entry to write), bounded.
    const final: GatewayProcess = gw;
    const storeDeadline = Date.now() + 30_000;
    let result = await check(influxUrl);
    let journalEntries = await scrapeMetric(final.httpPort, 'tryggheim_journal_entries');
    while ((result.missing.length > 0 || journalEntries !== 0) && Date.now() < storeDeadline) {
      await sleep(500);
      result = await check(influxUrl);
      journalEntries = await scrapeMetric(final.httpPort, 'tryggheim_journal_entries');
    }

    // Observations: messages journaled over all the gateway's lives (AUTOINCREMENT never reuses a seq), so
    // journaled − distinct stored = messages journaled twice (the duplicates that had to collapse).
    const lastLifeMessages = await scrapeMetric(final.httpPort, 'tryggheim_ingest_messages_total').catch(() => undefined);
    const stopped = await final.stop(10_000);
    outputs.push(final.output());
    gw = undefined;
    const journal = new BetterSqlite3(journalPath(dataDir), { readonly: true });
    let journaled: number;
    let leftInJournal: number;
    let deadLetters: number;
    try {
      journaled =
        (journal.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'journal'`).get() as { seq: number } | undefined)?.seq ?? 0;
      leftInJournal = (journal.prepare('SELECT count(*) AS n FROM journal').get() as { n: number }).n;
      deadLetters = (journal.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
    } finally {
      journal.close();
    }
    const errorLines = outputs.flatMap((o) => o.split('\n').filter((l) => /"level":(50|60)/.test(l)));

    const summary = {
      seed,
      devices: DEVICES,
      ratePerDevice: RATE_PER_DEVICE,
      crashes,
      sent: totalSent(),
      acked: totalAcked(),
      neverAcked: totalInFlight(),
      publishErrors: Object.fromEntries(publishErrors),
      clientErrors: publishers.reduce((n, p) => n + p.errors, 0),
      stored: { rows: result.rows, distinct: result.distinct, notAcked: result.storedNotAcked },
      journaled,
      // Journaled more than once, i.e. resent after being journaled: all of them had to collapse.
      duplicatesJournaled: journaled - result.distinct,
      resends: { published: resendsPublished, acked: resendsAcked, bothCopiesAcked: totalExtraAcks() },
      // Beyond the deliberate resends: mqtt.js resending, after a kill, what was journaled but not acknowledged.
      crashResendsJournaled: journaled - result.distinct - totalExtraAcks(),
      lastLifeMessages,
      leftInJournal,
      deadLetters,
      missing: result.missing.length,
      duplicates: result.duplicates.length,
      gatewayErrorLines: errorLines.length,
      totalMs: Date.now() - t0,
    };
    console.log(`crash test: ${JSON.stringify(summary)}`);
    if (errorLines.length > 0) console.log(`gateway error lines:\n${errorLines.slice(0, 20).join('\n')}`);

    expect(result.missing, `acknowledged but not stored (seed ${seed}): ${result.missing.slice(0, 20).join(', ')}`).toEqual([]);
    expect(result.duplicates, `stored more than once (seed ${seed})`).toEqual([]);
    // The collapse check is not vacuous: messages were journaled twice (an acknowledged copy is journaled).
    expect(totalExtraAcks()).toBeGreaterThan(0);
    expect(journaled - result.distinct).toBeGreaterThanOrEqual(totalExtraAcks());
    expect(deadLetters).toBe(0);
    expect(leftInJournal).toBe(0);
    expect(stopped.code).toBe(0);
  });
});
