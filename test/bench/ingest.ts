import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import { databasePath, openDatabase } from '../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../gateway/devices/registry.js';
import { startInfluxdProcess, type InfluxdProcess } from '../../gateway/storage/influxd-process.js';
import { quoteIdent, runInfluxQL } from '../../gateway/storage/influxql.js';
import { toLine } from '../../gateway/storage/line-protocol.js';
import { formatSummary, summarizeProfile, type CpuProfile, type ProfileSummary } from './cpuprofile.js';
import type { DiyCounters, DiyInit, DiyMessage, DiyParentMessage } from './diy-subscriber.js';
import type { IngestParentMessage, IngestWorkerMessage, IngestWorkerResult } from './ingest-worker.js';
import type { ConnectReport, FleetCounters, FleetDevice } from './load/fleet.js';
import {
  LineTap,
  cleanEnv,
  countEvent,
  cpuTimeOf,
  exited,
  findMosquitto,
  freePort,
  httpStatus,
  machineCpu,
  machineInfo,
  memoryOf,
  nowMs,
  percentile,
  sleep,
  spawnChild,
  stopChild,
  tcpOpen,
  threadCpuOf,
  cpuDelta,
  type MachineInfo,
} from './proc.js';
import { UsageError, type BenchOptions, type BenchResult, type Benchmark } from './types.js';

// `npm run bench -- ingest`: how many device messages per second end up acknowledged AND queryable in
// InfluxDB, Tryggheim against the pipeline a user would build without it, on one machine in one run:
//
//   ceiling    influxd's own ingest rate: pre-built line protocol POSTed to /write, 2 connections.
//   tryggheim  the compiled gateway in its own process (production config: journal fsynced before the
//              PUBACK, decode + validation, InfluxDB writes confirmed before the journal entry goes).
//   diy        Debian's mosquitto (no persistence) + ONE mqtt.js subscriber that builds line protocol by
//              hand and POSTs batches: no validation, no journal (acked before stored).
//
// Both pipelines get the same 1,000 devices (client worker processes running load/fleet.ts), the same
// ~205-byte native measurements at QoS 1 with a bounded send window per device, the same influxd (one
// database each). Each publishes for a warm-up and then a measured window; afterwards every acked
// (device, seq) is looked up in InfluxDB. See BENCHMARKS.md for the definitions.

const DEFAULTS = {
  devices: 1000,
  workers: 2,
  window: 4,
  warmupSec: 5,
  durationSec: 25,
  ceilingSec: 10,
  drainSec: 120,
  timeoutSec: 360,
  connectConcurrency: 200,
};
/** The issue's goal: Tryggheim at least as fast as the pipeline with fewer guarantees. */
const TARGET_RATIO = 1.0;
/** Below this, the report must say why (profile). */
const EXPLAIN_BELOW = 0.8;
/** The DIY subscriber as a user would write it: batches of 5,000 lines or every second, 2 requests at once. */
const DIY = { batchSize: 5000, flushMs: 1000, maxInFlight: 2 };
/**
 * mosquitto for the DIY pipeline: its defaults except persistence off, `max_inflight_messages 1000` and
 * `max_queued_messages 1000000`. With the default of 20 unacknowledged messages towards a client, the one
 * subscriber is starved while 1,000 devices publish (a run here: mosquitto acked 16,000/s, the subscriber
 * got 2,200/s, its queue grew without bound), and with the default queue of 1,000 mosquitto would then drop
 * acked QoS 1 messages. A user who watched their backlog would raise both; the benchmark compares against
 * that tuned pipeline, the stronger baseline (BENCHMARKS.md).
 */
const DIY_MOSQUITTO = { maxQueuedMessages: 1_000_000, maxInflightMessages: 1000 };
const CEILING = { batchSize: 5000, connections: 2, batches: 40 };
const PUBLISH_STOP_DRAIN_MS = 15_000;
const READY_TIMEOUT_MS = 30_000;
const PHASES = ['ceiling', 'tryggheim', 'diy'] as const;
type PhaseName = (typeof PHASES)[number];
const DATABASES: Record<PhaseName, string> = { ceiling: 'bench_ceiling', tryggheim: 'bench_tryggheim', diy: 'bench_diy' };

const distDir = fileURLToPath(new URL('../../', import.meta.url));
const projectDir = join(distDir, '..');
const gatewayCli = join(distDir, 'gateway/cli/main.js');
const workerScript = fileURLToPath(new URL('./ingest-worker.js', import.meta.url));
const subscriberScript = fileURLToPath(new URL('./diy-subscriber.js', import.meta.url));

interface Params {
  devices: number;
  workers: number;
  window: number;
  warmupSec: number;
  durationSec: number;
  ceilingSec: number;
  drainSec: number;
  timeoutSec: number;
  connectConcurrency: number;
  phases: PhaseName[];
  gatewayNodeOptions: string[];
  gatewayEnv: [string, string][];
  profile: boolean;
}

interface Device extends FleetDevice {
  homeId: string;
}

// ---------------------------------------------------------------------------------------------------
// Results

interface Sample {
  /** Seconds since `go`. */
  t: number;
  /** Messages acked to the publishers so far (the workers report every 500 ms, so up to 0.5 s old). */
  acked: number;
  /** Cumulative CPU ms of the server (gateway, or mosquitto), the DIY subscriber, influxd, the publisher workers. */
  serverCpuMs: number;
  subscriberCpuMs?: number;
  influxdCpuMs: number;
  workersCpuMs: number;
  serverRss: number;
  subscriberRss?: number;
  /** Tryggheim: /metrics. */
  journalEntries?: number;
  pointsWritten?: number;
  ingestMessages?: number;
  mqttPublishes?: number;
  /** DIY: the subscriber's counters. */
  received?: number;
  written?: number;
  pending?: number;
}

interface Mark {
  at: number;
  /** CLOCK_MONOTONIC µs, for cutting the CPU profile. */
  monoUs: number;
  serverCpuMs: number;
  serverThreads: Record<string, number>;
  subscriberCpuMs: number;
  influxdCpuMs: number;
  workersCpuMs: number;
  machine: ReturnType<typeof machineCpu>;
  stored: number;
  metrics?: Record<string, number>;
}

interface Verification {
  query: string;
  storedRows: number;
  storedDistinct: number;
  ackedTotal: number;
  ackedStored: number;
  ackedMissing: number;
  /** A few missing (device, seq), for a look in InfluxDB. */
  missingSample: string[];
  /** Stored points whose publish was never acked (in flight when the publishers stopped). */
  storedNotAcked: number;
}

interface PipelineResult {
  name: 'tryggheim' | 'diy';
  completed: boolean;
  stage: string;
  failure?: string;
  server?: string;
  startToReadyMs?: number;
  connect?: { connected: number; failed: number; failures: Record<string, number>; ms: number };
  published?: number;
  acked?: number;
  failedPublishes?: number;
  unackedAtStop?: number;
  droppedConnections?: number;
  publishErrors?: Record<string, number>;
  payloadBytesAvg?: number;
  windowMs?: number;
  ackedInWindow?: number;
  ackedStoredInWindow?: number;
  storedInWindow?: number;
  /** Per second, over the measured window. */
  rates?: { acked: number; stored: number; endToEnd: number };
  /** CPU µs per end-to-end message in the window: the pipeline (gateway, or mosquitto + subscriber) and influxd. */
  cpuUsPerMessage?: { pipeline: number; influxd: number };
  /** PUBLISH sent → PUBACK received, messages acked in the window, ms. */
  ackLatencyMs?: { p50: number; p90: number; p99: number; max: number };
  verification?: Verification;
  /** Stop of the publishers → everything acked is stored (journal empty / subscriber flushed), ms. */
  drainMs?: number;
  drainComplete?: boolean;
  /** Average cores over the window. */
  cores?: {
    server: number;
    serverThreads?: Record<string, number>;
    subscriber?: number;
    influxd: number;
    workers: number;
    machineBusy?: number;
    others?: number;
    steal?: number;
  };
  rss?: { serverAtWindowEnd?: number; serverPeak?: number; subscriberAtWindowEnd?: number; subscriberPeak?: number };
  backlog?: { max: number; atWindowStart: number; atWindowEnd: number; what: string };
  metricsAtWindowEnd?: Record<string, number>;
  samples: Sample[];
  profile?: { file: string; summary: ProfileSummary; window: 'measured' | 'whole run' };
  serverLog?: { events: Record<string, number>; tail?: string[] };
  warnings: string[];
  shutdown?: { code: number | null; signal: string | null; killed: boolean; ms: number };
}

interface CeilingResult {
  name: 'ceiling';
  completed: boolean;
  stage: string;
  failure?: string;
  connections: number;
  batchSize: number;
  distinctPoints: number;
  bytesPerLine?: number;
  points?: number;
  requests?: number;
  failedRequests?: number;
  ms?: number;
  pointsPerSec?: number;
  influxdCores?: number;
  machineBusy?: number;
}

type PhaseResult = PipelineResult | CeilingResult;

// ---------------------------------------------------------------------------------------------------

export const ingestBenchmark: Benchmark = async (opts, progress) => {
  const params = resolveParams(opts);
  const machine = machineInfo();
  const mosquittoBin = findMosquitto();
  const notes: string[] = [];
  const results: PhaseResult[] = [];

  const tmp = mkdtempSync(join(tmpdir(), 'tryggheim-bench-ingest-'));
  const children = new Set<ChildProcess>();
  let influxd: InfluxdProcess | undefined;
  const cleanUp = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    influxd?.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    cleanUp();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanUp);

  let influxdVersion = 'unknown';
  try {
    const dataDir = join(tmp, 'gateway-data');
    progress(`ingest: provisioning ${params.devices} devices in ${dataDir}`);
    const devices = provision(dataDir, params.devices);

    progress('ingest: starting influxd');
    influxd = await startInfluxdProcess({ dataDir: join(tmp, 'influxd'), startTimeoutMs: 30_000 });
    influxdVersion = /v?(\d+\.\d+\.\d+\S*)/.exec(spawnSync('influxd', ['version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
    for (const phase of params.phases) {
      await runInfluxQL({ url: influxd.url, database: '_internal', timeoutMs: 10_000 }, `CREATE DATABASE ${quoteIdent(DATABASES[phase])}`, {
        method: 'POST',
      });
    }
    progress(
      `ingest: influxd ${influxdVersion} on ${influxd.url} (pid ${influxd.pid}), databases ${params.phases.map((p) => DATABASES[p]).join(', ')}`,
    );

    for (const name of params.phases) {
      if (name === 'diy' && mosquittoBin === undefined) {
        notes.push('mosquitto not found (/usr/sbin/mosquitto, mosquitto_passwd): the DIY pipeline was skipped');
        continue;
      }
      const ctx: PhaseContext = { name, params, children: new Set(), all: children, stage: 'starting', aborted: false, progress, influxd };
      const run: Promise<PhaseResult> =
        name === 'ceiling'
          ? measureCeiling(ctx, devices)
          : name === 'tryggheim'
            ? measurePipeline(ctx, devices, (c) => startGateway(c, dataDir))
            : measurePipeline(ctx, devices, (c) => startDiy(c, mosquittoBin ?? '', join(tmp, 'mosquitto'), devices));
      const result = await withDeadline(ctx, run);
      results.push(result);
      progress(`[${name}] ${result.completed ? 'done' : `FAILED at ${result.stage}: ${result.failure ?? ''}`}`);
      await sleep(2000); // let influxd settle (WAL snapshot) before the next phase
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanUp);
    await influxd?.stop().catch(() => undefined);
    cleanUp();
  }
  return report(params, machine, results, notes, { influxd: influxdVersion, mosquitto: mosquittoBin });
};

function resolveParams(opts: BenchOptions): Params {
  let phases: PhaseName[] = [...PHASES];
  if (opts.only !== undefined) {
    const wanted = opts.only.split(',').map((s) => s.trim());
    const bad = wanted.filter((w) => !PHASES.includes(w as PhaseName));
    if (bad.length > 0 || wanted.length === 0)
      throw new UsageError(`--only takes a comma-separated list of ${PHASES.join(', ')} (got ${JSON.stringify(opts.only)})`);
    phases = wanted as PhaseName[];
  }
  if (!existsSync(gatewayCli)) throw new UsageError(`${gatewayCli} not found: run \`npm run build\` first (npm run bench does)`);
  if (opts.retries !== undefined || opts.connectRatePerSec !== undefined || opts.maxUnauthenticated !== undefined) {
    throw new UsageError('--retries, --connect-rate and --max-unauthenticated are options of the connections benchmark');
  }
  const gatewayNodeOptions = opts.gatewayNodeOptions?.split(/\s+/).filter((s) => s !== '') ?? [];
  return {
    devices: opts.devices ?? DEFAULTS.devices,
    workers: opts.workers ?? DEFAULTS.workers,
    window: opts.window ?? DEFAULTS.window,
    warmupSec: opts.warmupSec ?? DEFAULTS.warmupSec,
    durationSec: opts.durationSec ?? DEFAULTS.durationSec,
    ceilingSec: DEFAULTS.ceilingSec,
    drainSec: DEFAULTS.drainSec,
    timeoutSec: opts.timeoutSec ?? DEFAULTS.timeoutSec,
    connectConcurrency: opts.concurrency ?? DEFAULTS.connectConcurrency,
    phases,
    gatewayNodeOptions,
    gatewayEnv: (opts.gatewayEnv ?? []).map((kv) => {
      const eq = kv.indexOf('=');
      if (eq < 1) throw new UsageError(`--gateway-env wants KEY=VALUE (got ${JSON.stringify(kv)})`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
    profile: opts.profile === true,
  };
}

/** Devices with the native adapter, four to a home (realistic: the home_id tag is written too). */
function provision(dataDir: string, count: number): Device[] {
  const db = openDatabase(databasePath(dataDir));
  try {
    const registry = createDeviceRegistry({ db });
    const width = Math.max(4, String(count - 1).length);
    const devices: Device[] = [];
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const homeId = `home-${String(Math.floor(i / 4)).padStart(width, '0')}`;
        if (i % 4 === 0) registry.addHome({ id: homeId, teamId: 'team-bench' });
        const id = `sensor-${String(i).padStart(width, '0')}`;
        const { secret } = registry.addDevice({ id, kind: 'sensor', model: 'bench-multisensor', adapterId: 'tryggheim', homeId });
        devices.push({ id, secret, homeId });
      }
    })();
    return devices;
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Phases

interface PhaseContext {
  name: PhaseName;
  params: Params;
  /** Processes of this phase: killed when its deadline passes. */
  children: Set<ChildProcess>;
  /** Every process of the bench: killed on exit. */
  all: Set<ChildProcess>;
  stage: string;
  aborted: boolean;
  progress: (line: string) => void;
  influxd: InfluxdProcess;
}

function enter(ctx: PhaseContext, stage: string): void {
  if (ctx.aborted) throw new Error(`aborted before ${stage}`);
  ctx.stage = stage;
}

function track(ctx: PhaseContext, child: ChildProcess): void {
  ctx.children.add(child);
  ctx.all.add(child);
}

function say(ctx: PhaseContext, line: string): void {
  ctx.progress(`[${ctx.name}] ${line}`);
}

async function withDeadline(ctx: PhaseContext, run: Promise<PhaseResult>): Promise<PhaseResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, ctx.params.timeoutSec * 1000);
  });
  run.catch(() => undefined);
  const winner = await Promise.race([
    run.then(
      (r) => ({ r }),
      (e: unknown) => ({ e }),
    ),
    deadline,
  ]);
  clearTimeout(timer);
  const failed = (failure: string): PhaseResult =>
    ctx.name === 'ceiling'
      ? {
          name: 'ceiling',
          completed: false,
          stage: ctx.stage,
          failure,
          connections: CEILING.connections,
          batchSize: CEILING.batchSize,
          distinctPoints: 0,
        }
      : { name: ctx.name, completed: false, stage: ctx.stage, failure, samples: [], warnings: [] };
  if (winner === 'timeout') {
    ctx.aborted = true;
    for (const c of ctx.children) c.kill('SIGKILL');
    return failed(`hard timeout of ${ctx.params.timeoutSec} s; every process of this phase was killed`);
  }
  if ('e' in winner) {
    ctx.aborted = true;
    for (const c of ctx.children) c.kill('SIGKILL');
    const e = winner.e;
    return failed(e instanceof Error ? e.message : String(e));
  }
  return winner.r;
}

// ── ceiling ────────────────────────────────────────────────────────────────────────────────────────────

/** Lines exactly as the gateway writes them (toLine of canonical measurement events), built before timing. */
function ceilingBatches(devices: readonly Device[]): Buffer[] {
  const batches: Buffer[] = [];
  const base = Date.now() - 3_600_000;
  let n = 0;
  for (let b = 0; b < CEILING.batches; b++) {
    const lines: string[] = [];
    for (let i = 0; i < CEILING.batchSize; i++, n++) {
      const dev = devices[n % devices.length] ?? { id: 'sensor-x', homeId: 'home-x', secret: '' };
      const observed = new Date(base + Math.floor(n / devices.length));
      const event: CanonicalEvent = {
        eventId: ((n * 2654435761) % 2 ** 32).toString(16).padStart(8, '0') + '0'.repeat(24),
        deviceId: dev.id,
        homeId: dev.homeId,
        adapter: { id: 'tryggheim', version: 1 },
        observedAt: observed.toISOString(),
        receivedAt: new Date(observed.getTime() + 3).toISOString(),
        seq: n,
        body: {
          type: 'measurement',
          readings: {
            temperature_c: 21.53,
            humidity_pct: 41.2,
            illuminance_lux: 312.5,
            motion: false,
            bed_occupied: true,
            chair_occupied: false,
            contact_open: false,
          },
        },
      };
      lines.push(toLine(event));
    }
    batches.push(Buffer.from(lines.join('\n')));
  }
  return batches;
}

async function measureCeiling(ctx: PhaseContext, devices: readonly Device[]): Promise<CeilingResult> {
  const result: CeilingResult = {
    name: 'ceiling',
    completed: false,
    stage: ctx.stage,
    connections: CEILING.connections,
    batchSize: CEILING.batchSize,
    distinctPoints: CEILING.batches * CEILING.batchSize,
  };
  enter(ctx, 'building line protocol');
  const batches = ceilingBatches(devices);
  result.bytesPerLine = (batches[0]?.length ?? 0) / CEILING.batchSize;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CEILING.connections });
  const url = new URL(`/write?db=${DATABASES.ceiling}&precision=n`, ctx.influxd.url);
  const post = (body: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode === 204);
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        resolve(false);
      });
      req.end(body);
    });
  // One warm-up pass over a few batches (connections, shard creation).
  enter(ctx, 'warm-up');
  for (const b of batches.slice(0, 2)) await post(b);
  enter(ctx, 'posting');
  let next = 0;
  let points = 0;
  let requests = 0;
  let failed = 0;
  const end = performance.now() + ctx.params.ceilingSec * 1000;
  const cpu0 = cpuTimeOf(ctx.influxd.pid) ?? 0;
  const m0 = machineCpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CEILING.connections }, async () => {
      while (performance.now() < end && !ctx.aborted) {
        const body = batches[next++ % batches.length];
        if (body === undefined) break;
        requests += 1;
        if (await post(body)) points += CEILING.batchSize;
        else failed += 1;
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu1 = cpuTimeOf(ctx.influxd.pid) ?? 0;
  const m1 = machineCpu();
  agent.destroy();
  Object.assign(result, {
    points,
    requests,
    failedRequests: failed,
    ms,
    pointsPerSec: points / (ms / 1000),
    influxdCores: (cpu1 - cpu0) / ms,
    ...(m0 && m1 ? { machineBusy: (m1.busy - m0.busy) / ms } : {}),
  });
  say(ctx, `${points} points in ${(ms / 1000).toFixed(1)} s: ${fmtRate(result.pointsPerSec)} (influxd ${fmt2(result.influxdCores)} cores)`);
  result.stage = 'done';
  result.completed = true;
  return result;
}

// ── pipelines ──────────────────────────────────────────────────────────────────────────────────────────

interface Server {
  pid: number;
  port: number;
  child: ChildProcess;
  version: string;
  startToReadyMs: number;
  /** Tryggheim: /metrics, parsed. */
  metrics?: () => Promise<Record<string, number>>;
  /** DIY: the subscriber. */
  subscriber?: SubscriberHandle;
  log: () => { events: Record<string, number>; tail: string[] };
  /** Stops everything this target started (gateway, or subscriber + mosquitto). */
  stop: () => Promise<{ code: number | null; signal: string | null; killed: boolean; ms: number }>;
  profileDir?: string;
}

async function measurePipeline(
  ctx: PhaseContext,
  devices: readonly Device[],
  start: (ctx: PhaseContext) => Promise<Server>,
): Promise<PipelineResult> {
  const { params } = ctx;
  const name = ctx.name === 'diy' ? 'diy' : 'tryggheim';
  const result: PipelineResult = { name, completed: false, stage: ctx.stage, samples: [], warnings: [] };

  enter(ctx, 'starting server');
  const server = await start(ctx);
  result.server = server.version;
  result.startToReadyMs = server.startToReadyMs;
  say(ctx, `ready on 127.0.0.1:${server.port} (pid ${server.pid}) after ${fmtS(server.startToReadyMs)}`);
  const serverGone = exited(server.child).then((info) => {
    throw new Error(
      `server exited during the run (code ${info.code}, signal ${info.signal}); last output:\n${server.log().tail.join('\n')}`,
    );
  });
  serverGone.catch(() => undefined);
  const orDeath = <T>(p: Promise<T>): Promise<T> => Promise.race([p, serverGone]);

  enter(ctx, 'connecting publishers');
  const workers = startWorkers(ctx, server.port, devices);
  const reports = await orDeath(Promise.all(workers.map((w) => w.connected)));
  result.connect = { connected: 0, failed: 0, failures: {}, ms: 0 };
  for (const r of reports) {
    result.connect.connected += r.connected;
    result.connect.failed += r.failed;
    result.connect.ms = Math.max(result.connect.ms, r.elapsedMs);
    for (const [k, v] of Object.entries(r.failures)) result.connect.failures[k] = (result.connect.failures[k] ?? 0) + v;
  }
  say(ctx, `${result.connect.connected}/${devices.length} publishers connected in ${fmtS(result.connect.ms)}`);
  if (result.connect.connected === 0) throw new Error(`no publisher connected: ${fmtCounts(result.connect.failures)}`);
  if (result.connect.failed > 0)
    result.warnings.push(`${result.connect.failed} devices never connected (${fmtCounts(result.connect.failures)})`);
  await sleep(1000);

  const workersCpu = (): number => workers.reduce((n, w) => n + (cpuTimeOf(w.child.pid ?? 0) ?? 0), 0);
  const stored = async (): Promise<{ stored: number; metrics?: Record<string, number>; diy?: DiyCounters }> => {
    if (server.metrics) {
      const metrics = await server.metrics();
      return { stored: metrics.tryggheim_ingest_points_written_total ?? 0, metrics };
    }
    const diy = await (server.subscriber?.snapshot() ?? Promise.resolve(undefined));
    return { stored: diy?.written ?? 0, ...(diy ? { diy } : {}) };
  };
  const subscriberPid = server.subscriber?.child.pid;
  const mark = async (): Promise<Mark> => {
    const s = await orDeath(stored());
    return {
      at: nowMs(),
      monoUs: Number(process.hrtime.bigint() / 1000n),
      serverCpuMs: cpuTimeOf(server.pid) ?? NaN,
      serverThreads: threadCpuOf(server.pid),
      subscriberCpuMs: subscriberPid === undefined ? 0 : (cpuTimeOf(subscriberPid) ?? NaN),
      influxdCpuMs: cpuTimeOf(ctx.influxd.pid) ?? NaN,
      workersCpuMs: workersCpu(),
      machine: machineCpu(),
      stored: s.stored,
      ...(s.metrics ? { metrics: s.metrics } : {}),
    };
  };

  enter(ctx, 'publishing');
  const goAt = nowMs();
  const sampling = { on: true };
  let peakServerRss = 0;
  let peakSubscriberRss = 0;
  const sampleOnce = async (): Promise<void> => {
    const s = await stored().catch(() => undefined);
    const rss = memoryOf(server.pid)?.rss ?? NaN;
    const subRss = subscriberPid === undefined ? undefined : memoryOf(subscriberPid)?.rss;
    peakServerRss = Math.max(peakServerRss, rss || 0);
    peakSubscriberRss = Math.max(peakSubscriberRss, subRss ?? 0);
    const sample: Sample = {
      t: Math.round((nowMs() - goAt) / 100) / 10,
      acked: workers.reduce((n, w) => n + w.progress.acked, 0),
      serverCpuMs: cpuTimeOf(server.pid) ?? NaN,
      influxdCpuMs: cpuTimeOf(ctx.influxd.pid) ?? NaN,
      workersCpuMs: workersCpu(),
      serverRss: rss,
    };
    if (s?.metrics) {
      sample.journalEntries = s.metrics.tryggheim_journal_entries;
      sample.pointsWritten = s.metrics.tryggheim_ingest_points_written_total;
      sample.ingestMessages = s.metrics.tryggheim_ingest_messages_total;
      sample.mqttPublishes = s.metrics.tryggheim_mqtt_publishes_total;
    }
    if (s?.diy) {
      sample.subscriberCpuMs = subscriberPid === undefined ? undefined : cpuTimeOf(subscriberPid);
      sample.subscriberRss = subRss;
      sample.received = s.diy.received;
      sample.written = s.diy.written;
      sample.pending = s.diy.pending;
    }
    result.samples.push(sample);
  };
  const sampler = (async () => {
    while (sampling.on && !ctx.aborted) {
      const t = performance.now();
      await sampleOnce();
      await sleep(Math.max(0, 1000 - (performance.now() - t)));
    }
  })();
  const ticker = setInterval(() => {
    const last = result.samples.at(-1);
    const prev = result.samples.at(-2);
    if (!last || !prev) return;
    const dt = last.t - prev.t || 1;
    const backlog =
      last.journalEntries !== undefined
        ? `journal ${last.journalEntries}`
        : `acked − written ${Math.max(0, last.acked - (last.written ?? 0))} (subscriber holds ${last.pending ?? '–'})`;
    const storedNow = last.pointsWritten ?? last.written ?? 0;
    const storedPrev = prev.pointsWritten ?? prev.written ?? 0;
    say(
      ctx,
      `${last.t.toFixed(0)} s: acked ${fmtRate((last.acked - prev.acked) / dt)}, stored ${fmtRate((storedNow - storedPrev) / dt)}, ${backlog}, ` +
        `server CPU ${fmt2((last.serverCpuMs - prev.serverCpuMs) / dt / 1000)} cores, RSS ${mb(last.serverRss)}`,
    );
  }, 2000);

  let m0: Mark;
  let m1: Mark;
  let done: IngestWorkerResult[];
  try {
    for (const w of workers) w.send({ type: 'go' });
    await orDeath(sleep(params.warmupSec * 1000));
    m0 = await mark();
    say(ctx, `warm-up over, measuring ${params.durationSec} s`);
    await orDeath(sleep(params.durationSec * 1000));
    m1 = await mark();
    enter(ctx, 'stopping publishers');
    for (const w of workers) w.send({ type: 'stop', drainMs: PUBLISH_STOP_DRAIN_MS });
    done = await orDeath(Promise.all(workers.map((w) => w.stopped)));
  } finally {
    clearInterval(ticker);
  }
  const stopAt = nowMs();
  const m1Rss = memoryOf(server.pid)?.rss;
  const m1SubRss = subscriberPid === undefined ? undefined : memoryOf(subscriberPid)?.rss;

  // Merge what the publishers saw.
  const counters = done.reduce<FleetCounters>(
    (a, d) => ({
      published: a.published + d.counters.published,
      acked: a.acked + d.counters.acked,
      failed: a.failed + d.counters.failed,
      outstanding: a.outstanding + d.counters.outstanding,
      dropped: a.dropped + d.counters.dropped,
      payloadBytes: a.payloadBytes + d.counters.payloadBytes,
    }),
    { published: 0, acked: 0, failed: 0, outstanding: 0, dropped: 0, payloadBytes: 0 },
  );
  result.published = counters.published;
  result.acked = counters.acked;
  result.failedPublishes = counters.failed;
  result.unackedAtStop = done.reduce((n, d) => n + d.unacked, 0);
  result.droppedConnections = counters.dropped;
  result.payloadBytesAvg = counters.published > 0 ? counters.payloadBytes / counters.published : undefined;
  result.publishErrors = {};
  for (const d of done) for (const [k, v] of Object.entries(d.errors)) result.publishErrors[k] = (result.publishErrors[k] ?? 0) + v;
  if (counters.dropped > 0)
    result.warnings.push(`${counters.dropped} publisher connections were closed by the server (${fmtCounts(result.publishErrors)})`);

  const windowMs = m1.at - m0.at;
  result.windowMs = windowMs;
  const latencies: number[] = [];
  let ackedInWindow = 0;
  for (const d of done) {
    const r = d.records;
    for (let i = 0; i < r.count; i++) {
      const at = r.ackedAt[i] ?? 0;
      if (at >= m0.at && at < m1.at) {
        ackedInWindow += 1;
        latencies.push(at - (r.sentAt[i] ?? at));
      }
    }
  }
  latencies.sort((a, b) => a - b);
  result.ackedInWindow = ackedInWindow;
  result.storedInWindow = m1.stored - m0.stored;
  if (latencies.length > 0) {
    result.ackLatencyMs = {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
    };
  }
  const cores = (a: number, b: number): number => (b - a) / windowMs;
  const threads = cpuDelta(m0.serverThreads, m1.serverThreads);
  result.cores = {
    server: cores(m0.serverCpuMs, m1.serverCpuMs),
    ...(server.metrics
      ? {
          serverThreads: Object.fromEntries(
            Object.entries(threads)
              .filter(([, v]) => v > windowMs * 0.005)
              .map(([k, v]) => [k, round2(v / windowMs)]),
          ),
        }
      : { subscriber: cores(m0.subscriberCpuMs, m1.subscriberCpuMs) }),
    influxd: cores(m0.influxdCpuMs, m1.influxdCpuMs),
    workers: cores(m0.workersCpuMs, m1.workersCpuMs),
  };
  if (m0.machine && m1.machine) {
    const busy = cores(m0.machine.busy, m1.machine.busy);
    const ours = result.cores.server + (result.cores.subscriber ?? 0) + result.cores.influxd + result.cores.workers;
    result.cores.machineBusy = busy;
    result.cores.others = Math.max(0, busy - ours);
    result.cores.steal = cores(m0.machine.steal, m1.machine.steal);
  }
  if (m1.metrics) result.metricsAtWindowEnd = pickMetrics(m1.metrics);

  // Drain: everything acked must reach InfluxDB.
  enter(ctx, 'draining');
  say(ctx, `publishers stopped: ${counters.acked} acked, ${result.unackedAtStop} without ack; waiting until everything acked is stored`);
  const drainDeadline = performance.now() + params.drainSec * 1000;
  let drained = false;
  if (server.metrics) {
    while (performance.now() < drainDeadline) {
      const m = await orDeath(server.metrics());
      if ((m.tryggheim_journal_entries ?? NaN) === 0 && (m.tryggheim_ingest_messages_total ?? 0) >= counters.acked) {
        drained = true;
        break;
      }
      await sleep(250);
    }
  } else if (server.subscriber) {
    // First until mosquitto has delivered what it acked (or delivers nothing more), then the subscriber flushes.
    let last = -1;
    let stableSince = performance.now();
    while (performance.now() < drainDeadline) {
      const c = await orDeath(server.subscriber.snapshot());
      if (c.received >= counters.acked) break;
      if (c.received !== last) {
        last = c.received;
        stableSince = performance.now();
      } else if (performance.now() - stableSince > 3000) {
        result.warnings.push(
          `the subscriber received ${c.received} messages of ${counters.acked} acked by mosquitto; nothing more arrived for 3 s`,
        );
        break;
      }
      await sleep(250);
    }
    const left = Math.max(1000, drainDeadline - performance.now());
    drained = (await orDeath(Promise.race([server.subscriber.drain().then(() => true), sleep(left).then(() => false)]))) && true;
  }
  result.drainMs = nowMs() - stopAt;
  result.drainComplete = drained;
  if (!drained) result.warnings.push(`not everything acked was stored within ${params.drainSec} s of the stop`);
  await sampleOnce();
  sampling.on = false;
  await sampler;
  say(ctx, `drained in ${fmtS(result.drainMs)}${drained ? '' : ' (INCOMPLETE)'}`);

  enter(ctx, 'verifying in InfluxDB');
  const { present: storedSet, ...verification } = await verify(ctx, DATABASES[ctx.name], devices, workers, done);
  result.verification = verification;
  let ackedStoredInWindow = 0;
  for (const [k, d] of done.entries()) {
    const offset = workers[k]?.offset ?? 0;
    const r = d.records;
    for (let i = 0; i < r.count; i++) {
      const at = r.ackedAt[i] ?? 0;
      if (at < m0.at || at >= m1.at) continue;
      const dev = devices[offset + (r.device[i] ?? 0)];
      if (dev !== undefined && storedSet.get(dev.id)?.has(r.seq[i] ?? -1) === true) ackedStoredInWindow += 1;
    }
  }
  result.ackedStoredInWindow = ackedStoredInWindow;
  const sec = windowMs / 1000;
  result.rates = {
    acked: ackedInWindow / sec,
    stored: result.storedInWindow / sec,
    endToEnd: Math.min(ackedStoredInWindow, result.storedInWindow) / sec,
  };
  if (result.rates.endToEnd > 0) {
    result.cpuUsPerMessage = {
      pipeline: ((result.cores.server + (result.cores.subscriber ?? 0)) * 1e6) / result.rates.endToEnd,
      influxd: (result.cores.influxd * 1e6) / result.rates.endToEnd,
    };
  }
  const v = result.verification;
  say(
    ctx,
    `verified: ${v.ackedStored}/${v.ackedTotal} acked messages are in InfluxDB, ${v.ackedMissing} missing; end-to-end ${fmtRate(result.rates.endToEnd)}`,
  );
  if (v.ackedMissing > 0)
    result.warnings.push(`${v.ackedMissing} acked messages are NOT in InfluxDB (e.g. ${v.missingSample.slice(0, 5).join(', ')})`);

  // Backlog over time.
  const backlogOf = (s: Sample): number => s.journalEntries ?? Math.max(0, s.acked - (s.written ?? 0));
  const inWindow = result.samples.filter((s) => s.t * 1000 >= m0.at - goAt && s.t * 1000 <= m1.at - goAt);
  result.backlog = {
    what: server.metrics ? 'tryggheim_journal_entries' : 'acked by mosquitto − written by the subscriber',
    max: Math.max(0, ...result.samples.map(backlogOf)),
    atWindowStart: inWindow[0] ? backlogOf(inWindow[0]) : NaN,
    atWindowEnd: inWindow.at(-1) ? backlogOf(inWindow.at(-1) as Sample) : NaN,
  };
  result.rss = {
    serverAtWindowEnd: m1Rss,
    serverPeak: Math.max(peakServerRss, memoryOf(server.pid)?.hwm ?? 0),
    ...(subscriberPid !== undefined
      ? { subscriberAtWindowEnd: m1SubRss, subscriberPeak: Math.max(peakSubscriberRss, memoryOf(subscriberPid)?.hwm ?? 0) }
      : {}),
  };

  enter(ctx, 'closing publishers');
  for (const w of workers) w.send({ type: 'close' });
  await orDeath(Promise.all(workers.map((w) => w.closed)));
  await Promise.all(workers.map((w) => exited(w.child)));

  enter(ctx, 'stopping server');
  result.shutdown = await server.stop();
  const log = server.log();
  result.serverLog = {
    events: log.events,
    ...(result.shutdown.code !== 0 && !(result.shutdown.code === null && result.shutdown.signal === 'SIGTERM') ? { tail: log.tail } : {}),
  };
  say(
    ctx,
    `stopped: ${result.shutdown.killed ? 'had to be SIGKILLed' : `exit ${result.shutdown.code ?? result.shutdown.signal ?? ''}`} after ${fmtS(result.shutdown.ms)}`,
  );

  if (server.profileDir !== undefined) {
    const file = readdirSync(server.profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) result.warnings.push('--profile: the gateway wrote no .cpuprofile (did it exit cleanly?)');
    else {
      const keep = join(tmpdir(), `tryggheim-ingest-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      copyFileSync(join(server.profileDir, file), keep);
      const profile = JSON.parse(readFileSync(keep, 'utf8')) as CpuProfile;
      // The profile's clock is CLOCK_MONOTONIC µs, like process.hrtime here: cut out the measured window.
      const aligned = profile.startTime < m0.monoUs && profile.endTime > m1.monoUs;
      const summary = summarizeProfile(profile, aligned ? { fromUs: m0.monoUs, toUs: m1.monoUs } : {});
      result.profile = { file: keep, summary, window: aligned ? 'measured' : 'whole run' };
    }
  }

  enter(ctx, 'done');
  result.stage = 'done';
  result.completed = true;
  return result;
}

async function verify(
  ctx: PhaseContext,
  database: string,
  devices: readonly Device[],
  workers: readonly WorkerHandle[],
  done: readonly IngestWorkerResult[],
): Promise<Verification & { present: Map<string, Set<number>> }> {
  const query = 'SELECT seq FROM sensor GROUP BY device_id';
  const present = new Map<string, Set<number>>();
  let rows = 0;
  const url = new URL('/query', ctx.influxd.url);
  url.search = new URLSearchParams({ db: database, q: query, epoch: 'ms', chunked: 'true', chunk_size: '20000' }).toString();
  const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxDB /query answered ${res.status}: ${text.slice(0, 300)}`);
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const chunk = JSON.parse(line) as {
      results?: { error?: string; series?: { tags?: Record<string, string>; values?: [number, number][] }[] }[];
      error?: string;
    };
    if (chunk.error !== undefined) throw new Error(`InfluxDB query failed: ${chunk.error}`);
    for (const r of chunk.results ?? []) {
      if (r.error !== undefined) throw new Error(`InfluxDB query failed: ${r.error}`);
      for (const s of r.series ?? []) {
        const id = s.tags?.device_id ?? '';
        let set = present.get(id);
        if (!set) {
          set = new Set();
          present.set(id, set);
        }
        for (const [, seq] of s.values ?? []) {
          rows += 1;
          set.add(seq);
        }
      }
    }
  }
  let distinct = 0;
  for (const s of present.values()) distinct += s.size;
  let ackedTotal = 0;
  let ackedStored = 0;
  const missingSample: string[] = [];
  for (const [k, d] of done.entries()) {
    const offset = workers[k]?.offset ?? 0;
    const r = d.records;
    for (let i = 0; i < r.count; i++) {
      const dev = devices[offset + (r.device[i] ?? 0)];
      const seq = r.seq[i] ?? -1;
      ackedTotal += 1;
      if (dev !== undefined && present.get(dev.id)?.has(seq) === true) ackedStored += 1;
      else if (missingSample.length < 20) missingSample.push(`${dev?.id ?? '?'}#${seq}`);
    }
  }
  return {
    query,
    storedRows: rows,
    storedDistinct: distinct,
    ackedTotal,
    ackedStored,
    ackedMissing: ackedTotal - ackedStored,
    missingSample,
    storedNotAcked: distinct - ackedStored,
    present,
  };
}

// ── publisher workers ──────────────────────────────────────────────────────────────────────────────────

interface WorkerHandle {
  child: ChildProcess;
  offset: number;
  send(msg: IngestParentMessage): void;
  connected: Promise<ConnectReport>;
  stopped: Promise<IngestWorkerResult>;
  closed: Promise<void>;
  progress: FleetCounters;
}

function startWorkers(ctx: PhaseContext, port: number, devices: readonly Device[]): WorkerHandle[] {
  const { params } = ctx;
  const n = Math.min(params.workers, devices.length);
  const per = Math.ceil(devices.length / n);
  const handles: WorkerHandle[] = [];
  for (let i = 0; i < n; i++) {
    const offset = i * per;
    const slice = devices.slice(offset, offset + per);
    enter(ctx, ctx.stage);
    const child = spawnChild(process.execPath, [workerScript], {
      env: process.env,
      ipc: true,
      serialization: 'advanced',
      fdLimit: slice.length + 256,
    });
    track(ctx, child);
    const stderr = new LineTap(child.stderr, 20);
    new LineTap(child.stdout, 20);
    const handle = makeWorkerHandle(child, stderr, i, offset);
    handle.send({
      type: 'init',
      url: `mqtt://127.0.0.1:${port}`,
      devices: slice.map((d) => ({ id: d.id, secret: d.secret })),
      offset,
      window: params.window,
      connectConcurrency: Math.max(1, Math.floor(params.connectConcurrency / n)),
      seed: 20261123,
    });
    handles.push(handle);
  }
  return handles;
}

function makeWorkerHandle(child: ChildProcess, stderr: LineTap, index: number, offset: number): WorkerHandle {
  let onConnected!: (r: ConnectReport) => void;
  let onStopped!: (r: IngestWorkerResult) => void;
  let onClosed!: () => void;
  let fail!: (e: Error) => void;
  const failure = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  failure.catch(() => undefined);
  const handled = <T>(p: Promise<T>): Promise<T> => {
    const q = Promise.race([p, failure]);
    q.catch(() => undefined);
    return q;
  };
  const handle: WorkerHandle = {
    child,
    offset,
    send(msg) {
      if (child.connected) child.send(msg);
    },
    connected: handled(new Promise<ConnectReport>((r) => (onConnected = r))),
    stopped: handled(new Promise<IngestWorkerResult>((r) => (onStopped = r))),
    closed: handled(new Promise<void>((r) => (onClosed = r))),
    progress: { published: 0, acked: 0, failed: 0, outstanding: 0, dropped: 0, payloadBytes: 0 },
  };
  let finished = false;
  child.on('message', (raw: unknown) => {
    const msg = raw as IngestWorkerMessage;
    switch (msg.type) {
      case 'connected':
        onConnected(msg.report);
        break;
      case 'progress':
        handle.progress = msg.counters;
        break;
      case 'stopped':
        handle.progress = msg.result.counters;
        onStopped(msg.result);
        break;
      case 'closed':
        finished = true;
        onClosed();
        break;
      case 'fatal':
        fail(new Error(`publisher worker ${index} failed: ${msg.message}`));
        break;
    }
  });
  child.once('exit', (code, signal) => {
    if (!finished) fail(new Error(`publisher worker ${index} exited early (code ${code}, signal ${signal}):\n${stderr.last().join('\n')}`));
  });
  return handle;
}

// ── servers ────────────────────────────────────────────────────────────────────────────────────────────

const WANTED_METRICS = [
  'tryggheim_journal_entries',
  'tryggheim_journal_bytes',
  'tryggheim_ingest_messages_total',
  'tryggheim_ingest_events_total',
  'tryggheim_ingest_points_written_total',
  'tryggheim_ingest_write_failures_total',
  'tryggheim_ingest_telemetry_dropped_total',
  'tryggheim_ingest_dead_letters_total',
  'tryggheim_mqtt_publishes_total',
  'tryggheim_mqtt_publishes_failed_total',
  'tryggheim_mqtt_publishes_denied_total',
  'tryggheim_mqtt_clients',
  'tryggheim_mqtt_connections',
];

function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m?.[1] || !WANTED_METRICS.includes(m[1])) continue;
    const value = Number(m[3]);
    if (m[2] !== undefined) {
      if (value === 0) continue;
      out[m[1] + m[2]] = value;
    } else out[m[1]] = value;
  }
  return out;
}

function pickMetrics(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== 0));
}

async function startGateway(ctx: PhaseContext, dataDir: string): Promise<Server> {
  const { params } = ctx;
  let lastError = '';
  const profileDir = params.profile ? join(dataDir, '..', 'cpu-profile') : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const nodeOptions = [...params.gatewayNodeOptions, ...(profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  for (let tries = 0; tries < 3; tries++) {
    const mqttPort = await freePort();
    let httpPort = await freePort();
    while (httpPort === mqttPort) httpPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...cleanEnv(),
      TRYGGHEIM_DATA_DIR: dataDir,
      TRYGGHEIM_BROKER__HOST: '127.0.0.1',
      TRYGGHEIM_BROKER__TCP__PORT: String(mqttPort),
      TRYGGHEIM_BROKER__WS__ENABLED: 'false',
      TRYGGHEIM_HTTP__HOST: '127.0.0.1',
      TRYGGHEIM_HTTP__PORT: String(httpPort),
      TRYGGHEIM_LOG__LEVEL: 'warn',
      TRYGGHEIM_INFLUX__URL: ctx.influxd.url,
      TRYGGHEIM_INFLUX__API_VERSION: 'v1',
      TRYGGHEIM_INFLUX__DATABASE: DATABASES.tryggheim,
    };
    for (const [k, v] of params.gatewayEnv) env[k] = v;
    enter(ctx, ctx.stage);
    const started = performance.now();
    const child = spawnChild(process.execPath, [...nodeOptions, gatewayCli, 'start'], {
      env,
      cwd: projectDir,
      fdLimit: params.devices + 512,
    });
    track(ctx, child);
    const events: Record<string, number> = {};
    const stdout = new LineTap(child.stdout, 40, (line) => {
      countEvent(events, line);
    });
    const stderr = new LineTap(child.stderr, 40);
    const log = (): { events: Record<string, number>; tail: string[] } => ({ events, tail: [...stdout.last(), ...stderr.last()] });
    const gone = exited(child);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (performance.now() - started > READY_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(`gateway not ready after ${READY_TIMEOUT_MS / 1000} s:\n${log().tail.join('\n')}`);
      }
      const status = await Promise.race([httpStatus(`http://127.0.0.1:${httpPort}/readyz`), gone.then(() => 0)]);
      if (status === 200) {
        return {
          pid: child.pid ?? 0,
          port: mqttPort,
          child,
          version: `tryggheim (node ${process.version}${nodeOptions.length > 0 ? ` ${nodeOptions.join(' ')}` : ''})`,
          startToReadyMs: performance.now() - started,
          metrics: async () => {
            const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
            return parseMetrics(await res.text());
          },
          log,
          stop: async () => {
            const s = await stopChild(child, 'SIGTERM', 30_000);
            return { code: s.code, signal: s.signal, killed: s.killed, ms: s.elapsedMs };
          },
          ...(profileDir !== undefined ? { profileDir } : {}),
        };
      }
      await sleep(100);
    }
    await gone;
    lastError = log().tail.join('\n');
    if (!/EADDRINUSE|cannot listen/i.test(lastError)) break;
    say(ctx, 'port taken, retrying with other ports');
  }
  throw new Error(`gateway did not start:\n${lastError}`);
}

interface SubscriberHandle {
  child: ChildProcess;
  snapshot(): Promise<DiyCounters>;
  drain(): Promise<DiyCounters>;
  close(): Promise<void>;
}

const SUBSCRIBER = { username: 'diy-subscriber', password: 'diy-subscriber-secret-0123456789' };

async function startDiy(ctx: PhaseContext, bin: string, dir: string, devices: readonly Device[]): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const passwordFile = join(dir, 'passwd');
  writeFileSync(
    passwordFile,
    [...devices, { id: SUBSCRIBER.username, secret: SUBSCRIBER.password }].map((d) => `${d.id}:${d.secret}\n`).join(''),
    { mode: 0o600 },
  );
  const hashed = spawnSync('mosquitto_passwd', ['-U', passwordFile], { encoding: 'utf8', timeout: 60_000 });
  if (hashed.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${hashed.stderr || String(hashed.error)}`);
  const version = /mosquitto version (\S+)/.exec(spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';

  let lastError = '';
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${passwordFile}`,
        'max_connections -1',
        'persistence false',
        `max_queued_messages ${DIY_MOSQUITTO.maxQueuedMessages}`,
        `max_inflight_messages ${DIY_MOSQUITTO.maxInflightMessages}`,
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'connection_messages false',
        '',
      ].join('\n'),
    );
    enter(ctx, ctx.stage);
    const started = performance.now();
    const child = spawnChild(bin, ['-c', conf], { env: cleanEnv(), fdLimit: devices.length + 512 });
    track(ctx, child);
    const stdout = new LineTap(child.stdout, 40);
    const stderr = new LineTap(child.stderr, 40);
    const log = (): { events: Record<string, number>; tail: string[] } => ({ events: {}, tail: [...stdout.last(), ...stderr.last()] });
    let listening = false;
    while (child.exitCode === null && child.signalCode === null) {
      if (performance.now() - started > READY_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(`mosquitto not listening after ${READY_TIMEOUT_MS / 1000} s:\n${log().tail.join('\n')}`);
      }
      if (await tcpOpen(port)) {
        listening = true;
        break;
      }
      await sleep(50);
    }
    if (!listening) {
      await exited(child);
      lastError = log().tail.join('\n');
      if (!/in use/i.test(lastError)) break;
      continue;
    }
    enter(ctx, 'starting the DIY subscriber');
    const subscriber = await startSubscriber(ctx, port);
    return {
      pid: child.pid ?? 0,
      port,
      child,
      version: `mosquitto ${version} + 1 mqtt.js subscriber (batches of ${DIY.batchSize} / ${DIY.flushMs} ms, ${DIY.maxInFlight} in flight)`,
      startToReadyMs: performance.now() - started,
      subscriber,
      log,
      stop: async () => {
        await subscriber.close();
        const s = await stopChild(child, 'SIGTERM', 15_000);
        return { code: s.code, signal: s.signal, killed: s.killed, ms: s.elapsedMs };
      },
    };
  }
  throw new Error(`mosquitto did not start:\n${lastError}`);
}

async function startSubscriber(ctx: PhaseContext, port: number): Promise<SubscriberHandle> {
  const child = spawnChild(process.execPath, [subscriberScript], { env: process.env, ipc: true });
  track(ctx, child);
  const stderr = new LineTap(child.stderr, 20);
  new LineTap(child.stdout, 20);
  let fail!: (e: Error) => void;
  const failure = new Promise<never>((_r, reject) => {
    fail = reject;
  });
  failure.catch(() => undefined);
  const waiting: Partial<Record<'ready' | 'snapshot' | 'drained', ((c: DiyCounters) => void)[]>> = {};
  const wait = (type: 'ready' | 'snapshot' | 'drained'): Promise<DiyCounters> => {
    const p = Promise.race([new Promise<DiyCounters>((r) => (waiting[type] ??= []).push(r)), failure]);
    p.catch(() => undefined);
    return p;
  };
  let closing = false;
  const empty: DiyCounters = { received: 0, written: 0, pending: 0, requests: 0, failedRequests: 0, parseErrors: 0, cpuMs: 0 };
  child.on('message', (raw: unknown) => {
    const msg = raw as DiyMessage;
    if (msg.type === 'fatal') {
      fail(new Error(`DIY subscriber: ${msg.message}`));
      return;
    }
    if (msg.type === 'progress') return;
    const counters = msg.type === 'ready' ? empty : msg.counters;
    for (const r of waiting[msg.type]?.splice(0) ?? []) r(counters);
  });
  child.once('exit', (code, signal) => {
    if (!closing) fail(new Error(`DIY subscriber exited (code ${code}, signal ${signal}):\n${stderr.last().join('\n')}`));
  });
  const send = (msg: DiyParentMessage): void => {
    if (child.connected) child.send(msg);
  };
  const ready = wait('ready');
  const init: DiyInit = {
    type: 'init',
    mqttUrl: `mqtt://127.0.0.1:${port}`,
    username: SUBSCRIBER.username,
    password: SUBSCRIBER.password,
    influxUrl: ctx.influxd.url,
    database: DATABASES.diy,
    ...DIY,
  };
  send(init);
  await Promise.race([ready, sleep(READY_TIMEOUT_MS).then(() => Promise.reject(new Error('DIY subscriber not ready in time')))]);
  return {
    child,
    snapshot() {
      const p = wait('snapshot');
      send({ type: 'snapshot' });
      return p;
    },
    drain() {
      const p = wait('drained');
      send({ type: 'drain' });
      return p;
    },
    async close() {
      closing = true;
      send({ type: 'close' });
      await Promise.race([exited(child), sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Report

const round2 = (v: number): number => Math.round(v * 100) / 100;
const mb = (bytes: number | undefined): string => (bytes === undefined || Number.isNaN(bytes) ? '–' : `${(bytes / 1e6).toFixed(0)} MB`);
const fmtS = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(1)} s`);
const fmtMs = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '–' : `${ms.toFixed(1)} ms`);
const fmt0 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(0));
const fmt2 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(2));
const fmtRate = (r: number | undefined): string =>
  r === undefined || Number.isNaN(r) ? '–' : `${Math.round(r).toLocaleString('en-US')}/s`;
const fmtCounts = (c: Record<string, number>): string =>
  Object.keys(c).length === 0
    ? 'none'
    : Object.entries(c)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');

function report(
  params: Params,
  machine: MachineInfo,
  results: PhaseResult[],
  notes: string[],
  versions: { influxd: string; mosquitto: string | undefined },
): BenchResult {
  const t = results.find((r): r is PipelineResult => r.name === 'tryggheim');
  const d = results.find((r): r is PipelineResult => r.name === 'diy');
  const c = results.find((r): r is CeilingResult => r.name === 'ceiling');
  const a = t?.completed === true ? t.rates?.endToEnd : undefined;
  const b = d?.completed === true ? d.rates?.endToEnd : undefined;
  const ratio = a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  const ceiling = c?.completed === true ? c.pointsPerSec : undefined;
  const tLost = t?.verification?.ackedMissing;
  const targetMet = ratio === undefined ? undefined : ratio >= TARGET_RATIO;
  const everyRunCompleted = results.every((r) => r.completed);
  const ok = everyRunCompleted && (tLost ?? 0) === 0 && targetMet !== false;

  notes.push(
    'rates: "end-to-end" = min(messages acked in the window that are in InfluxDB at the end, points confirmed by InfluxDB in the window) ÷ window; the slower of the two stages is what the pipeline sustains.',
  );
  if (params.devices !== DEFAULTS.devices) notes.push(`--devices ${params.devices}: not the ${DEFAULTS.devices} the issue states.`);
  if (params.gatewayEnv.length > 0)
    notes.push(
      `gateway environment overridden: ${params.gatewayEnv.map(([k, v]) => `${k}=${v}`).join(' ')} (not the production configuration)`,
    );
  if (params.profile || params.gatewayNodeOptions.length > 0)
    notes.push('the gateway ran with extra node flags (a profiler costs it some throughput)');

  const col = (r: PipelineResult | undefined, f: (r: PipelineResult) => string): string =>
    r === undefined ? 'not run' : !r.completed ? `FAILED (${r.stage})` : f(r);
  const ratioOf = (x: number | undefined, y: number | undefined): string =>
    x === undefined || y === undefined || y === 0 ? '' : `${(x / y).toFixed(2)}×`;
  const pct = (x: number | undefined): string =>
    x === undefined || ceiling === undefined ? '' : ` (${((x / ceiling) * 100).toFixed(0)} % of ceiling)`;
  const cpuServer = (r: PipelineResult): string =>
    r.cores === undefined
      ? '–'
      : r.cores.subscriber !== undefined
        ? `${fmt2(r.cores.server)} + ${fmt2(r.cores.subscriber)} subscriber`
        : fmt2(r.cores.server);
  const rows: [string, string, string, string][] = [
    ['', 'tryggheim (a)', 'diy (b)', 'a/b'],
    [
      'end-to-end rate (acked ∧ stored)',
      col(t, (r) => fmtRate(r.rates?.endToEnd) + pct(r.rates?.endToEnd)),
      col(d, (r) => fmtRate(r.rates?.endToEnd) + pct(r.rates?.endToEnd)),
      ratio === undefined ? '' : `${ratio.toFixed(2)}×`,
    ],
    [
      'acked by the broker, in window',
      col(t, (r) => fmtRate(r.rates?.acked)),
      col(d, (r) => fmtRate(r.rates?.acked)),
      ratioOf(t?.rates?.acked, d?.rates?.acked),
    ],
    [
      'confirmed by InfluxDB, in window',
      col(t, (r) => fmtRate(r.rates?.stored)),
      col(d, (r) => fmtRate(r.rates?.stored)),
      ratioOf(t?.rates?.stored, d?.rates?.stored),
    ],
    [
      'PUBLISH→PUBACK p50 / p99',
      col(t, (r) => `${fmtMs(r.ackLatencyMs?.p50)} / ${fmtMs(r.ackLatencyMs?.p99)}`),
      col(d, (r) => `${fmtMs(r.ackLatencyMs?.p50)} / ${fmtMs(r.ackLatencyMs?.p99)}`),
      '',
    ],
    [
      'acked, all / missing in InfluxDB',
      col(t, (r) => `${r.verification?.ackedTotal ?? '–'} / ${r.verification?.ackedMissing ?? '–'}`),
      col(d, (r) => `${r.verification?.ackedTotal ?? '–'} / ${r.verification?.ackedMissing ?? '–'}`),
      '',
    ],
    [
      'backlog max (end of window)',
      col(t, (r) => `${r.backlog?.max ?? '–'} (${r.backlog?.atWindowEnd ?? '–'})`),
      col(d, (r) => `${r.backlog?.max ?? '–'} (${r.backlog?.atWindowEnd ?? '–'})`),
      '',
    ],
    [
      'stop → all stored',
      col(t, (r) => fmtS(r.drainMs) + (r.drainComplete === false ? ' INCOMPLETE' : '')),
      col(d, (r) => fmtS(r.drainMs) + (r.drainComplete === false ? ' INCOMPLETE' : '')),
      '',
    ],
    ['server CPU (cores, window)', col(t, cpuServer), col(d, cpuServer), ''],
    [
      'pipeline CPU per message (µs)',
      col(t, (r) => fmt0(r.cpuUsPerMessage?.pipeline)),
      col(d, (r) => fmt0(r.cpuUsPerMessage?.pipeline)),
      ratioOf(t?.cpuUsPerMessage?.pipeline, d?.cpuUsPerMessage?.pipeline),
    ],
    ['influxd CPU (cores, window)', col(t, (r) => fmt2(r.cores?.influxd)), col(d, (r) => fmt2(r.cores?.influxd)), ''],
    ['publisher workers CPU (cores)', col(t, (r) => fmt2(r.cores?.workers)), col(d, (r) => fmt2(r.cores?.workers)), ''],
    [
      'machine busy / others (cores)',
      col(t, (r) => `${fmt2(r.cores?.machineBusy)} / ${fmt2(r.cores?.others)}`),
      col(d, (r) => `${fmt2(r.cores?.machineBusy)} / ${fmt2(r.cores?.others)}`),
      '',
    ],
    [
      'server RSS end of window / peak',
      col(t, (r) => `${mb(r.rss?.serverAtWindowEnd)} / ${mb(r.rss?.serverPeak)}`),
      col(d, (r) => `${mb(r.rss?.serverAtWindowEnd)} / ${mb(r.rss?.serverPeak)}`),
      '',
    ],
    [
      'subscriber RSS end of window / peak',
      col(t, () => ''),
      col(d, (r) => `${mb(r.rss?.subscriberAtWindowEnd)} / ${mb(r.rss?.subscriberPeak)}`),
      '',
    ],
    ['payload, mean', col(t, (r) => `${fmt2(r.payloadBytesAvg)} B`), col(d, (r) => `${fmt2(r.payloadBytesAvg)} B`), ''],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i as 0 | 1 | 2 | 3].length)));
  const lines: string[] = [];
  lines.push(
    `ingest: ${params.devices} devices, ${params.workers} publisher workers, window ${params.window} unacked QoS 1 publishes per device, ` +
      `warm-up ${params.warmupSec} s, measured ${params.durationSec} s`,
  );
  lines.push(
    `machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalGiB} GiB, node ${machine.node}, Linux ${machine.kernel}, ${machine.date}`,
  );
  lines.push(`influxd ${versions.influxd}; ${d?.server ?? (versions.mosquitto ? 'mosquitto' : 'no mosquitto')}`);
  lines.push('');
  if (c !== undefined) {
    lines.push(
      c.completed
        ? `ceiling (c): influxd raw /write, ${c.connections} connections, ${c.batchSize} pre-built lines per request (${fmt2(c.bytesPerLine)} B/line): ` +
            `${fmtRate(c.pointsPerSec)} points (${c.points ?? 0} in ${fmtS(c.ms)}, ${c.failedRequests ?? 0} failed requests, influxd ${fmt2(c.influxdCores)} cores, machine ${fmt2(c.machineBusy)} cores busy)`
        : `ceiling (c): FAILED at ${c.stage}: ${c.failure ?? ''}`,
    );
    lines.push('');
  }
  for (const row of rows) {
    lines.push(
      `  ${row[0].padEnd(widths[0] ?? 0)}  ${row[1].padStart(widths[1] ?? 0)}  ${row[2].padStart(widths[2] ?? 0)}  ${row[3].padStart(widths[3] ?? 0)}`.trimEnd(),
    );
  }
  lines.push('');
  for (const r of [t, d]) {
    if (r === undefined) continue;
    if (r.cores?.serverThreads) lines.push(`[${r.name}] gateway CPU by thread (cores): ${fmtCounts(r.cores.serverThreads)}`);
    if (r.metricsAtWindowEnd) lines.push(`[${r.name}] /metrics at the end of the window: ${fmtCounts(r.metricsAtWindowEnd)}`);
    if (r.verification) {
      const v = r.verification;
      lines.push(
        `[${r.name}] InfluxDB (${v.query}): ${v.storedRows} rows, ${v.storedDistinct} distinct (device, seq); acked ${v.ackedTotal}, of which stored ${v.ackedStored}, missing ${v.ackedMissing}; stored but never acked ${v.storedNotAcked}`,
      );
    }
    if (r.publishErrors && Object.keys(r.publishErrors).length > 0) lines.push(`[${r.name}] publish errors: ${fmtCounts(r.publishErrors)}`);
    if (r.serverLog && Object.keys(r.serverLog.events).length > 0)
      lines.push(`[${r.name}] server log events: ${fmtCounts(r.serverLog.events)}`);
    for (const w of r.warnings) lines.push(`[${r.name}] WARNING: ${w}`);
    if (!r.completed) lines.push(`[${r.name}] FAILED at ${r.stage}: ${r.failure ?? ''}`);
    if (r.serverLog?.tail) lines.push(`[${r.name}] server output tail:`, ...r.serverLog.tail.map((l) => `    ${l}`));
    if (r.samples.length > 1) {
      lines.push(`[${r.name}] over time (every ~2 s): t s | acked/s | stored/s | backlog | server cores | server RSS`);
      for (let i = 2; i < r.samples.length; i += 2) {
        const s = r.samples[i];
        const p = r.samples[i - 2];
        if (!s || !p) continue;
        const dt = s.t - p.t || 1;
        const st = (x: Sample): number => x.pointsWritten ?? x.written ?? 0;
        const backlog = s.journalEntries ?? Math.max(0, s.acked - (s.written ?? 0));
        const cores = (s.serverCpuMs - p.serverCpuMs + ((s.subscriberCpuMs ?? 0) - (p.subscriberCpuMs ?? 0))) / dt / 1000;
        lines.push(
          `    ${s.t.toFixed(0).padStart(4)} | ${fmtRate((s.acked - p.acked) / dt).padStart(9)} | ${fmtRate((st(s) - st(p)) / dt).padStart(9)} | ${String(backlog).padStart(7)} | ${fmt2(cores)} | ${mb(s.serverRss)}`,
        );
      }
    }
    if (r.profile) {
      lines.push(`[${r.name}] CPU profile (${r.profile.window} window) ${r.profile.file}:`);
      for (const l of formatSummary(r.profile.summary)) lines.push(`    ${l}`);
    }
  }
  lines.push('');
  if (ceiling !== undefined) lines.push(`ceiling (c): ${fmtRate(ceiling)} points`);
  lines.push(`tryggheim (a): ${fmtRate(a)}   diy (b): ${fmtRate(b)}   a/b: ${ratio === undefined ? '–' : ratio.toFixed(2)}`);
  if (ratio !== undefined) {
    lines.push(
      `target a/b ≥ ${TARGET_RATIO.toFixed(1)}: ${targetMet === true ? 'MET' : 'NOT MET'}${ratio < EXPLAIN_BELOW ? ` (below ${EXPLAIN_BELOW}: see the profile, run with --profile)` : ''}`,
    );
  }
  if (tLost !== undefined) lines.push(`tryggheim: every acked message stored: ${tLost === 0 ? 'yes' : `NO, ${tLost} missing`}`);
  for (const n of notes) lines.push(`note: ${n}`);

  const json = {
    bench: 'ingest',
    command: `npm run bench -- ingest ${process.argv.slice(3).join(' ')}`.trim(),
    machine,
    params,
    versions,
    diy: { subscriber: DIY, mosquitto: DIY_MOSQUITTO },
    ceiling: c ?? null,
    results: results.filter((r): r is PipelineResult => r.name !== 'ceiling'),
    rates: { tryggheim: a ?? null, diy: b ?? null, ratio: ratio ?? null, ceiling: ceiling ?? null },
    target: { ratio: TARGET_RATIO, met: targetMet ?? null, everyAckedStored: tLost === undefined ? null : tLost === 0 },
    notes,
    ok,
  };
  return { ok, lines, json };
}
