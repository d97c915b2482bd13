import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { databasePath, openDatabase } from '../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../gateway/devices/registry.js';
import type { ParentMessage, WorkerDevice, WorkerMessage, WorkerResult } from './connections-worker.js';
import {
  LineTap,
  canRaiseFdLimit,
  cleanEnv,
  countEvent,
  cpuDelta,
  cpuTimeOf,
  exited,
  fdLimits,
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
  tcpCounters,
  tcpOpen,
  threadCpuOf,
  type MachineInfo,
} from './proc.js';
import { UsageError, type BenchOptions, type BenchResult, type Benchmark } from './types.js';

// `npm run bench -- connections`: N devices (default 10,000) connect at once, first to the Tryggheim
// gateway (its own process, production config apart from ports and log level), then to Debian's mosquitto
// with a password file for the same devices. The clients run in separate worker processes, so each
// server's RSS and CPU time are its own. Figures: connect rate, time until all are connected,
// CONNECT→CONNACK latency, refusals by reason, server RSS (idle, all connected, peak) and CPU time.

const DEFAULTS = { devices: 10_000, concurrency: 500, workers: 2, timeoutSec: 120, retries: 5 };
/** What the gateway must do for a municipality's devices reconnecting after a restart. */
const TARGET = { allConnectedWithinSec: 30, rssUnderBytes: 600e6 };
const ATTEMPT_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;
const TARGETS = ['tryggheim', 'mosquitto'] as const;
type TargetName = (typeof TARGETS)[number];

const distDir = fileURLToPath(new URL('../../', import.meta.url));
const projectDir = join(distDir, '..');
const gatewayCli = join(distDir, 'gateway/cli/main.js');
const workerScript = fileURLToPath(new URL('./connections-worker.js', import.meta.url));

interface Params {
  devices: number;
  concurrency: number;
  workers: number;
  timeoutSec: number;
  retries: number;
  targets: TargetName[];
  gatewayLimits: { connectRatePerSec: number | 'default'; maxUnauthenticated: number | 'default' };
  gatewayNodeOptions: string[];
  /** Extra environment for the gateway (diagnosis only, e.g. TRYGGHEIM_BROKER__PERSISTENCE=memory). */
  gatewayEnv: [string, string][];
  /** Soft open-file limit the server children are started with (raised through bash `ulimit -n` when needed). */
  serverFdLimit: number;
}

/** Everything one target's measurement produced. Times in ms, sizes in bytes. */
interface TargetResult {
  name: TargetName;
  completed: boolean;
  failure?: string;
  stage: string;
  version?: string;
  startToReadyMs?: number;
  devices: number;
  connected: number;
  attempts: number;
  refusals: Record<string, number>;
  gaveUp: Record<string, number>;
  /** Connections the server closed after their CONNACK, before the bench closed them (counted until close). */
  droppedAfterConnect: number;
  dropReasons?: Record<string, number>;
  timeToAllMs?: number;
  ratePerSec?: number;
  peakRatePerSec?: number;
  connackMs?: { p50: number; p90: number; p99: number; max: number };
  tcpConnectMs?: { p50: number; p99: number; max: number };
  attemptToConnackMs?: { p50: number; p99: number; max: number };
  serverCpuMs?: number;
  serverCpuMsPerConnection?: number;
  /** Server CPU during the connect phase by thread (`main` = the event loop / mosquitto's only thread), ms. */
  serverThreadCpuMs?: Record<string, number>;
  /** Share of the connect phase the server's main thread was on a CPU (1 = saturated). */
  serverMainThreadBusy?: number;
  /**
   * The whole machine during the connect phase, in cores (average): busy, of which this bench's processes
   * (server + client workers + this process) and everyone else, and hypervisor steal. The machine is shared.
   */
  machineCores?: { available: number; busy: number; bench: number; others: number; steal: number };
  /** Kernel TCP counters during the connect phase (whole network namespace): listen-queue overflows, SYN cookies, retransmits. */
  tcp?: Record<string, number>;
  /** Problems the bench noticed in the server's own figures (e.g. /metrics disagreeing with the clients). */
  warnings: string[];
  clientCpuMs?: number;
  rssIdle?: number;
  rssConnected?: number;
  rssPeakSampled?: number;
  rssHwm?: number;
  rssAfterClose?: number;
  clientsCloseMs?: number;
  shutdown?: { code: number | null; signal: string | null; killed: boolean; ms: number };
  metrics?: Record<string, number>;
  serverLog?: { events: Record<string, number>; tail?: string[] };
}

export const connectionsBenchmark: Benchmark = async (opts, progress) => {
  const params = resolveParams(opts);
  const machine = machineInfo();
  const mosquittoBin = findMosquitto();
  const results: TargetResult[] = [];
  const notes: string[] = [];

  const tmp = mkdtempSync(join(tmpdir(), 'tryggheim-bench-'));
  const children = new Set<ChildProcess>();
  const cleanUp = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    cleanUp();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Last resort if the bench itself crashes: no server or worker outlives it, no temp dir is left.
  process.once('exit', cleanUp);

  try {
    const dataDir = join(tmp, 'gateway-data');
    progress(`connections: provisioning ${params.devices} devices in ${dataDir}`);
    const t0 = performance.now();
    const devices = provision(dataDir, params.devices);
    const provisionMs = performance.now() - t0;
    progress(`connections: provisioned in ${(provisionMs / 1000).toFixed(1)} s`);

    for (const name of params.targets) {
      if (name === 'mosquitto' && mosquittoBin === undefined) {
        notes.push('mosquitto not found (/usr/sbin/mosquitto, mosquitto_passwd): comparison skipped');
        continue;
      }
      const ctx: PhaseContext = { name, params, devices, children, stage: 'starting', aborted: false, progress };
      const run =
        name === 'tryggheim'
          ? measure(ctx, () => startTryggheim(ctx, dataDir))
          : measure(ctx, () => startMosquitto(ctx, mosquittoBin ?? '', join(tmp, 'mosquitto'), devices));
      const result = await withDeadline(ctx, run);
      results.push(result);
      progress(`[${name}] ${result.completed ? 'done' : `FAILED at ${result.stage}: ${result.failure ?? ''}`}`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanUp);
    cleanUp();
  }

  return report(params, machine, results, notes, mosquittoBin);
};

function resolveParams(opts: BenchOptions): Params {
  const devices = opts.devices ?? DEFAULTS.devices;
  const workers = opts.workers ?? DEFAULTS.workers;
  const concurrency = opts.concurrency ?? DEFAULTS.concurrency;
  let targets: TargetName[] = [...TARGETS];
  if (opts.only !== undefined) {
    const only = TARGETS.find((t) => t === opts.only);
    if (only === undefined) throw new UsageError(`--only must be one of ${TARGETS.join(', ')} (got ${JSON.stringify(opts.only)})`);
    targets = [only];
  }
  if (opts.window !== undefined || opts.warmupSec !== undefined || opts.durationSec !== undefined || opts.profile === true) {
    throw new UsageError('--window, --warmup, --duration and --profile are options of the ingest benchmark');
  }
  if (!existsSync(gatewayCli)) throw new UsageError(`${gatewayCli} not found: run \`npm run build\` first (npm run bench does)`);

  // A server holds one descriptor per client plus its own files; a worker one per client it holds.
  const serverFds = devices + 512;
  const workerFds = Math.ceil(devices / workers) + 256;
  const { soft, hard } = fdLimits();
  const needed = Math.max(serverFds, workerFds);
  if (soft < needed && !canRaiseFdLimit(needed)) {
    throw new UsageError(
      `${devices} devices need ${needed} open files per process but \`ulimit -n\` is ${soft} (hard ${hard}) and cannot be raised here; ` +
        `raise it (ulimit -n ${needed}, LimitNOFILE=${needed}) or use --devices ${Math.max(1, soft - 512)}`,
    );
  }
  return {
    devices,
    concurrency,
    workers,
    timeoutSec: opts.timeoutSec ?? DEFAULTS.timeoutSec,
    retries: opts.retries ?? DEFAULTS.retries,
    targets,
    gatewayLimits: { connectRatePerSec: opts.connectRatePerSec ?? 'default', maxUnauthenticated: opts.maxUnauthenticated ?? 'default' },
    gatewayNodeOptions: opts.gatewayNodeOptions?.split(/\s+/).filter((s) => s !== '') ?? [],
    gatewayEnv: (opts.gatewayEnv ?? []).map((kv) => {
      const eq = kv.indexOf('=');
      if (eq < 1) throw new UsageError(`--gateway-env wants KEY=VALUE (got ${JSON.stringify(kv)})`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
    serverFdLimit: Math.max(soft, serverFds),
  };
}

function provision(dataDir: string, count: number): WorkerDevice[] {
  const db = openDatabase(databasePath(dataDir));
  try {
    const registry = createDeviceRegistry({ db });
    const width = String(count - 1).length;
    const devices: WorkerDevice[] = [];
    // One transaction for all (addDevice's own becomes a savepoint): seconds instead of minutes of fsyncs.
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const id = `bench-${String(i).padStart(Math.max(3, width), '0')}`;
        const { secret } = registry.addDevice({ id, kind: 'sensor', model: 'bench-sensor', adapterId: 'bench' });
        devices.push({ id, secret });
      }
    })();
    return devices;
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// One target: start the server, connect every device, read memory/CPU/metrics, close, stop.

interface PhaseContext {
  name: TargetName;
  params: Params;
  devices: WorkerDevice[];
  /** Every process this phase started: killed when its deadline passes. */
  children: Set<ChildProcess>;
  stage: string;
  /** Set when the deadline passed: the abandoned measurement must not start anything new. */
  aborted: boolean;
  progress: (line: string) => void;
}

/** Moves the phase to its next stage, or stops it when its deadline has passed. */
function enter(ctx: PhaseContext, stage: string): void {
  if (ctx.aborted) throw new Error(`aborted before ${stage}`);
  ctx.stage = stage;
}

interface Server {
  pid: number;
  port: number;
  child: ChildProcess;
  version: string;
  startToReadyMs: number;
  /** Prometheus text from the gateway's /metrics (Tryggheim only). */
  metrics?: () => Promise<string>;
  log: () => { events: Record<string, number>; tail: string[] };
}

function emptyResult(ctx: PhaseContext): TargetResult {
  return {
    name: ctx.name,
    completed: false,
    stage: ctx.stage,
    devices: ctx.params.devices,
    connected: 0,
    attempts: 0,
    refusals: {},
    gaveUp: {},
    droppedAfterConnect: 0,
    warnings: [],
  };
}

async function withDeadline(ctx: PhaseContext, run: Promise<TargetResult>): Promise<TargetResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, ctx.params.timeoutSec * 1000);
  });
  // The measurement may still settle after a timeout; nobody waits for it then.
  run.catch(() => undefined);
  const winner = await Promise.race([run.then((r) => ({ r }), (e: unknown) => ({ e })), deadline]);
  clearTimeout(timer);
  if (winner === 'timeout') {
    ctx.aborted = true;
    for (const c of ctx.children) c.kill('SIGKILL');
    return { ...emptyResult(ctx), stage: ctx.stage, failure: `hard timeout of ${ctx.params.timeoutSec} s; every process of this target was killed` };
  }
  if ('e' in winner) {
    ctx.aborted = true;
    for (const c of ctx.children) c.kill('SIGKILL');
    const e = winner.e;
    return { ...emptyResult(ctx), stage: ctx.stage, failure: e instanceof Error ? e.message : String(e) };
  }
  return winner.r;
}

async function measure(ctx: PhaseContext, start: () => Promise<Server>): Promise<TargetResult> {
  const { params } = ctx;
  const result = emptyResult(ctx);
  const say = (line: string): void => {
    ctx.progress(`[${ctx.name}] ${line}`);
  };

  enter(ctx, 'starting server');
  const server = await start();
  result.version = server.version;
  result.startToReadyMs = server.startToReadyMs;
  say(`ready on 127.0.0.1:${server.port} (pid ${server.pid}) after ${(server.startToReadyMs / 1000).toFixed(1)} s`);
  const serverGone = exited(server.child).then((info) => {
    throw new Error(`server exited during the run (code ${info.code}, signal ${info.signal}); last output:\n${server.log().tail.join('\n')}`);
  });
  serverGone.catch(() => undefined);
  const orServerDeath = <T>(p: Promise<T>): Promise<T> => Promise.race([p, serverGone]);

  await sleep(1000);
  result.rssIdle = memoryOf(server.pid)?.rss;

  enter(ctx, 'starting client workers');
  const workers = startWorkers(ctx, server.port);
  await orServerDeath(Promise.all(workers.map((w) => w.ready)));

  enter(ctx, 'connecting');
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, memoryOf(server.pid)?.rss ?? 0);
  }, 100);
  const cpu0 = cpuTimeOf(server.pid);
  const threads0 = threadCpuOf(server.pid);
  const machine0 = machineCpu();
  const tcp0 = tcpCounters();
  const self0 = process.cpuUsage();
  const goAt = nowMs();
  for (const w of workers) w.send({ type: 'go' });
  const ticker = setInterval(() => {
    const connected = workers.reduce((n, w) => n + w.progress.connected, 0);
    const failed = workers.reduce((n, w) => n + w.progress.failedAttempts, 0);
    const elapsed = (nowMs() - goAt) / 1000;
    say(`${elapsed.toFixed(1)} s: ${connected}/${params.devices} connected, ${failed} failed attempts, RSS ${mb(memoryOf(server.pid)?.rss)}`);
  }, 1000);
  let done: WorkerResult[];
  try {
    done = await orServerDeath(Promise.all(workers.map((w) => w.done)));
  } finally {
    clearInterval(ticker);
  }
  const cpu1 = cpuTimeOf(server.pid);
  const threads = cpuDelta(threads0, threadCpuOf(server.pid));
  const machine1 = machineCpu();
  result.tcp = Object.fromEntries(Object.entries(cpuDelta(tcp0, tcpCounters())).filter(([, v]) => v !== 0));
  const self = process.cpuUsage(self0);
  merge(result, done, goAt);
  if (machine0 && machine1 && result.timeToAllMs !== undefined && cpu0 !== undefined && cpu1 !== undefined) {
    const wall = result.timeToAllMs;
    const busy = machine1.busy - machine0.busy;
    const bench = cpu1 - cpu0 + (result.clientCpuMs ?? 0) + (self.user + self.system) / 1000;
    const round = (v: number): number => Math.round(v * 100) / 100;
    result.machineCores = {
      available: round((busy + machine1.idle - machine0.idle) / wall),
      busy: round(busy / wall),
      bench: round(bench / wall),
      others: round(Math.max(0, busy - bench) / wall),
      steal: round((machine1.steal - machine0.steal) / wall),
    };
  }
  result.serverThreadCpuMs = Object.fromEntries(Object.entries(threads).filter(([, v]) => v > 0).map(([k, v]) => [k, Math.round(v)]));
  if (threads.main !== undefined && result.timeToAllMs !== undefined) result.serverMainThreadBusy = threads.main / result.timeToAllMs;
  if (cpu0 !== undefined && cpu1 !== undefined) {
    result.serverCpuMs = cpu1 - cpu0;
    if (result.connected > 0) result.serverCpuMsPerConnection = result.serverCpuMs / result.connected;
  }
  say(
    `${result.connected}/${params.devices} connected in ${fmtS(result.timeToAllMs)} (${fmtRate(result.ratePerSec)}), ` +
      `CONNACK p50 ${fmtMs(result.connackMs?.p50)} p99 ${fmtMs(result.connackMs?.p99)}`,
  );

  enter(ctx, 'holding connections');
  await orServerDeath(sleep(2000));
  result.rssConnected = memoryOf(server.pid)?.rss;
  if (server.metrics !== undefined) {
    result.metrics = pickMetrics(await orServerDeath(server.metrics()));
  }
  clearInterval(sampler);
  result.rssPeakSampled = Math.max(peak, result.rssConnected ?? 0);

  enter(ctx, 'closing clients');
  const closeStart = performance.now();
  for (const w of workers) w.send({ type: 'close' });
  const closed = await orServerDeath(Promise.all(workers.map((w) => w.closed)));
  result.clientsCloseMs = performance.now() - closeStart;
  // Counted again at close: a connection may also be dropped while the bench holds them all.
  result.droppedAfterConnect = closed.reduce((n, c) => n + c.droppedAfterConnect, 0);
  result.dropReasons = {};
  for (const c of closed) for (const [k, v] of Object.entries(c.dropReasons)) result.dropReasons[k] = (result.dropReasons[k] ?? 0) + v;
  if (result.droppedAfterConnect > 0) {
    result.warnings.push(`${result.droppedAfterConnect} connections were closed by the server after their CONNACK (${fmtCounts(result.dropReasons)})`);
  }
  // The gateway's own gauges should agree with what the clients hold (a drop is counted up to close, so
  // one between the scrape and the close would show here too; the drop warning above says so).
  const held = result.connected - result.droppedAfterConnect;
  for (const name of ['tryggheim_mqtt_clients', 'tryggheim_mqtt_connections']) {
    const value = result.metrics?.[name];
    if (result.metrics !== undefined && value !== held) {
      result.warnings.push(`/metrics ${name}=${value ?? 'absent'} while the clients held ${held} CONNACKed connections`);
    }
  }
  await Promise.all(workers.map((w) => exited(w.child)));
  await orServerDeath(sleep(1000));
  const mem = memoryOf(server.pid);
  result.rssAfterClose = mem?.rss;
  result.rssHwm = mem?.hwm;

  enter(ctx, 'stopping server');
  const stop = await stopChild(server.child, 'SIGTERM', 15_000);
  result.shutdown = { code: stop.code, signal: stop.signal, killed: stop.killed, ms: stop.elapsedMs };
  const log = server.log();
  result.serverLog = { events: log.events, ...(stop.code !== 0 && !(stop.code === null && stop.signal === 'SIGTERM') ? { tail: log.tail } : {}) };
  say(`stopped: ${stop.killed ? 'had to be SIGKILLed' : `exit ${stop.code ?? stop.signal ?? ''}`} after ${fmtS(stop.elapsedMs)}`);

  enter(ctx, 'done');
  result.stage = 'done';
  result.completed = true;
  return result;
}

function merge(result: TargetResult, done: WorkerResult[], goAt: number): void {
  const connack: number[] = [];
  const tcp: number[] = [];
  const total: number[] = [];
  const at: number[] = [];
  let last: number | undefined;
  let clientCpu = 0;
  for (const d of done) {
    result.connected += d.connected;
    result.attempts += d.attempts;
    result.droppedAfterConnect += d.droppedAfterConnect;
    clientCpu += d.cpuMs;
    for (const [k, v] of Object.entries(d.refusals)) result.refusals[k] = (result.refusals[k] ?? 0) + v;
    for (const [k, v] of Object.entries(d.gaveUp)) result.gaveUp[k] = (result.gaveUp[k] ?? 0) + v;
    connack.push(...d.connackMs);
    tcp.push(...d.tcpMs);
    total.push(...d.totalMs);
    at.push(...d.connackAt);
    if (d.lastConnackAt !== undefined) last = Math.max(last ?? 0, d.lastConnackAt);
  }
  result.clientCpuMs = clientCpu;
  connack.sort((a, b) => a - b);
  tcp.sort((a, b) => a - b);
  total.sort((a, b) => a - b);
  at.sort((a, b) => a - b);
  if (connack.length > 0) {
    result.connackMs = { p50: percentile(connack, 50), p90: percentile(connack, 90), p99: percentile(connack, 99), max: connack.at(-1) ?? NaN };
    result.tcpConnectMs = { p50: percentile(tcp, 50), p99: percentile(tcp, 99), max: tcp.at(-1) ?? NaN };
    result.attemptToConnackMs = { p50: percentile(total, 50), p99: percentile(total, 99), max: total.at(-1) ?? NaN };
  }
  if (last !== undefined) {
    result.timeToAllMs = last - goAt;
    result.ratePerSec = result.connected / (result.timeToAllMs / 1000);
  }
  // Most CONNACKs in any one-second window (two pointers over the sorted times).
  let best = 0;
  for (let i = 0, j = 0; j < at.length; j++) {
    while ((at[j] ?? 0) - (at[i] ?? 0) >= 1000) i++;
    best = Math.max(best, j - i + 1);
  }
  result.peakRatePerSec = best;
}

const WANTED_METRICS = [
  'tryggheim_mqtt_clients',
  'tryggheim_mqtt_connections',
  'tryggheim_mqtt_unauthenticated_connections',
  'tryggheim_mqtt_connections_accepted_total',
  'tryggheim_mqtt_connections_refused_total',
  'tryggheim_mqtt_auth_failures_total',
  'tryggheim_mqtt_packets_refused_total',
];

/** The broker series of a Prometheus exposition; labelled ones only when non-zero. */
function pickMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m?.[1] || !WANTED_METRICS.includes(m[1])) continue;
    const value = Number(m[3]);
    if (m[2] !== undefined && value === 0) continue;
    out[m[1] + (m[2] ?? '')] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Client workers

interface WorkerHandle {
  child: ChildProcess;
  send(msg: ParentMessage): void;
  ready: Promise<void>;
  done: Promise<WorkerResult>;
  closed: Promise<{ droppedAfterConnect: number; dropReasons: Record<string, number> }>;
  progress: { connected: number; failedAttempts: number; gaveUp: number };
}

function startWorkers(ctx: PhaseContext, port: number): WorkerHandle[] {
  const { params, devices } = ctx;
  const n = Math.min(params.workers, devices.length);
  const per = Math.ceil(devices.length / n);
  const handles: WorkerHandle[] = [];
  for (let i = 0; i < n; i++) {
    const slice = devices.slice(i * per, (i + 1) * per);
    const concurrency = Math.max(1, Math.floor(params.concurrency / n) + (i < params.concurrency % n ? 1 : 0));
    enter(ctx, ctx.stage);
    const child = spawnChild(process.execPath, [workerScript], {
      env: process.env,
      ipc: true,
      fdLimit: slice.length + 256,
    });
    ctx.children.add(child);
    const stderr = new LineTap(child.stderr, 20);
    new LineTap(child.stdout, 20);
    const handle = makeWorkerHandle(child, stderr, i);
    handle.send({
      type: 'init',
      host: '127.0.0.1',
      port,
      devices: slice,
      concurrency,
      retries: params.retries,
      attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
    });
    handles.push(handle);
  }
  return handles;
}

function makeWorkerHandle(child: ChildProcess, stderr: LineTap, index: number): WorkerHandle {
  let onReady!: () => void;
  let onDone!: (r: WorkerResult) => void;
  let onClosed!: (r: { droppedAfterConnect: number; dropReasons: Record<string, number> }) => void;
  let fail!: (e: Error) => void;
  const failure = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  failure.catch(() => undefined);
  const orFail = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failure]);
  // Each promise is marked handled: after a timeout nobody awaits them, and an unhandled rejection would end
  // the whole bench before it has cleaned up.
  const handled = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined);
    return p;
  };
  const handle: WorkerHandle = {
    child,
    send(msg) {
      if (child.connected) child.send(msg);
    },
    ready: handled(orFail(new Promise<void>((r) => (onReady = r)))),
    done: handled(orFail(new Promise<WorkerResult>((r) => (onDone = r)))),
    closed: handled(orFail(new Promise<{ droppedAfterConnect: number; dropReasons: Record<string, number> }>((r) => (onClosed = r)))),
    progress: { connected: 0, failedAttempts: 0, gaveUp: 0 },
  };
  let finished = false;
  child.on('message', (raw: unknown) => {
    const msg = raw as WorkerMessage;
    switch (msg.type) {
      case 'ready':
        onReady();
        break;
      case 'progress':
        handle.progress = { connected: msg.connected, failedAttempts: msg.failedAttempts, gaveUp: msg.gaveUp };
        break;
      case 'done':
        onDone(msg.result);
        break;
      case 'closed':
        finished = true;
        onClosed({ droppedAfterConnect: msg.droppedAfterConnect, dropReasons: msg.dropReasons });
        break;
      case 'fatal':
        fail(new Error(`client worker ${index} failed: ${msg.message}`));
        break;
    }
  });
  child.once('exit', (code, signal) => {
    if (!finished) fail(new Error(`client worker ${index} exited early (code ${code}, signal ${signal}):\n${stderr.last().join('\n')}`));
  });
  return handle;
}

// ---------------------------------------------------------------------------------------------------
// Servers

async function startTryggheim(ctx: PhaseContext, dataDir: string): Promise<Server> {
  const { params } = ctx;
  let lastError = '';
  // A port picked free can be taken before the gateway binds it: try again with new ones.
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
    };
    for (const [k, v] of params.gatewayEnv) env[k] = v;
    if (params.gatewayLimits.connectRatePerSec !== 'default') {
      env.TRYGGHEIM_BROKER__LIMITS__CONNECT_RATE_PER_SEC = String(params.gatewayLimits.connectRatePerSec);
    }
    if (params.gatewayLimits.maxUnauthenticated !== 'default') {
      env.TRYGGHEIM_BROKER__LIMITS__MAX_UNAUTHENTICATED = String(params.gatewayLimits.maxUnauthenticated);
    }
    enter(ctx, ctx.stage);
    const started = performance.now();
    const child = spawnChild(process.execPath, [...params.gatewayNodeOptions, gatewayCli, 'start'], {
      env,
      cwd: projectDir,
      fdLimit: params.serverFdLimit,
    });
    ctx.children.add(child);
    const events: Record<string, number> = {};
    const stdout = new LineTap(child.stdout, 40, (line) => {
      countEvent(events, line);
    });
    const stderr = new LineTap(child.stderr, 40);
    const log = (): { events: Record<string, number>; tail: string[] } => ({ events, tail: [...stdout.last(), ...stderr.last()] });

    const readyUrl = `http://127.0.0.1:${httpPort}/readyz`;
    const gone = exited(child);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (performance.now() - started > READY_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(`gateway not ready after ${READY_TIMEOUT_MS / 1000} s:\n${log().tail.join('\n')}`);
      }
      const status = await Promise.race([httpStatus(readyUrl), gone.then(() => 0)]);
      if (status === 200) {
        return {
          pid: child.pid ?? 0,
          port: mqttPort,
          child,
          version: `node ${process.version}, ${params.gatewayNodeOptions.join(' ')}`.trim().replace(/,$/, ''),
          startToReadyMs: performance.now() - started,
          metrics: async () => {
            const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
            return res.text();
          },
          log,
        };
      }
      await sleep(100);
    }
    await gone;
    lastError = log().tail.join('\n');
    if (!/EADDRINUSE|cannot listen/i.test(lastError)) break;
    ctx.progress(`[tryggheim] port taken, retrying with other ports`);
  }
  throw new Error(`gateway did not start:\n${lastError}`);
}

async function startMosquitto(ctx: PhaseContext, bin: string, dir: string, devices: readonly WorkerDevice[]): Promise<Server> {
  const { params } = ctx;
  mkdirSync(dir, { recursive: true });
  const passwordFile = join(dir, 'passwd');
  writeFileSync(passwordFile, devices.map((d) => `${d.id}:${d.secret}\n`).join(''), { mode: 0o600 });
  // -U hashes every plain-text password of the file in place (PBKDF2-SHA512): one process, not 10,000.
  const t0 = performance.now();
  const hashed = spawnSync('mosquitto_passwd', ['-U', passwordFile], { encoding: 'utf8', timeout: 60_000 });
  if (hashed.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${hashed.stderr || String(hashed.error)}`);
  ctx.progress(`[mosquitto] password file for ${devices.length} users hashed in ${fmtS(performance.now() - t0)}`);
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
        'set_tcp_nodelay true',
        // As root mosquitto drops to the `mosquitto` user, which cannot read our private temp dir.
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
    const child = spawnChild(bin, ['-c', conf], { env: cleanEnv(), fdLimit: params.serverFdLimit });
    ctx.children.add(child);
    const stdout = new LineTap(child.stdout, 40);
    const stderr = new LineTap(child.stderr, 40);
    const log = (): { events: Record<string, number>; tail: string[] } => ({ events: {}, tail: [...stdout.last(), ...stderr.last()] });
    while (child.exitCode === null && child.signalCode === null) {
      if (performance.now() - started > READY_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(`mosquitto not listening after ${READY_TIMEOUT_MS / 1000} s:\n${log().tail.join('\n')}`);
      }
      if (await tcpOpen(port)) {
        return { pid: child.pid ?? 0, port, child, version: `mosquitto ${version}`, startToReadyMs: performance.now() - started, log };
      }
      await sleep(50);
    }
    await exited(child);
    lastError = log().tail.join('\n');
    if (!/in use/i.test(lastError)) break;
  }
  throw new Error(`mosquitto did not start:\n${lastError}`);
}

// ---------------------------------------------------------------------------------------------------
// Report

const mb = (bytes: number | undefined): string => (bytes === undefined || Number.isNaN(bytes) ? '–' : `${(bytes / 1e6).toFixed(0)} MB`);
const fmtS = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
const fmtMs = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '–' : `${ms.toFixed(1)} ms`);
const fmtPct = (f: number | undefined): string => (f === undefined || Number.isNaN(f) ? '–' : `${(f * 100).toFixed(0)} %`);
const fmtCores = (c: TargetResult['machineCores']): string =>
  c === undefined ? '–' : `${c.busy.toFixed(2)}/${c.available.toFixed(0)}, others ${c.others.toFixed(2)}`;
const fmtRate = (r: number | undefined): string => (r === undefined || Number.isNaN(r) ? '–' : `${r.toFixed(0)}/s`);
const fmtCounts = (c: Record<string, number>): string =>
  Object.keys(c).length === 0
    ? 'none'
    : Object.entries(c)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 || Number.isNaN(a) || Number.isNaN(b) ? undefined : a / b;
const fmtRatio = (r: number | undefined): string => (r === undefined ? '–' : `${r.toFixed(2)}×`);

function peakRss(r: TargetResult | undefined): number | undefined {
  if (r === undefined) return undefined;
  const values = [r.rssHwm, r.rssPeakSampled].filter((v): v is number => v !== undefined && !Number.isNaN(v));
  return values.length === 0 ? undefined : Math.max(...values);
}

function report(params: Params, machine: MachineInfo, results: TargetResult[], notes: string[], mosquittoBin: string | undefined): BenchResult {
  const t = results.find((r) => r.name === 'tryggheim');
  const m = results.find((r) => r.name === 'mosquitto');
  const ratios = {
    connectRate: ratio(t?.ratePerSec, m?.ratePerSec),
    timeToAll: ratio(t?.timeToAllMs, m?.timeToAllMs),
    connackP50: ratio(t?.connackMs?.p50, m?.connackMs?.p50),
    connackP99: ratio(t?.connackMs?.p99, m?.connackMs?.p99),
    rssConnected: ratio(t?.rssConnected, m?.rssConnected),
    rssPeak: ratio(peakRss(t), peakRss(m)),
    serverCpuPerConnection: ratio(t?.serverCpuMsPerConnection, m?.serverCpuMsPerConnection),
  };

  const allConnected = t?.completed === true && t.connected === params.devices;
  const withinTime = allConnected && t.timeToAllMs !== undefined && t.timeToAllMs <= TARGET.allConnectedWithinSec * 1000;
  const tPeak = peakRss(t);
  const rssOk = t?.completed === true && tPeak !== undefined && tPeak < TARGET.rssUnderBytes;
  const targetMet = t === undefined ? undefined : withinTime && rssOk;
  const everyRunCompleted = results.every((r) => r.completed);
  const ok = everyRunCompleted && targetMet !== false;

  notes.push(
    'mosquitto checks passwords with PBKDF2-SHA512 (101 iterations, mosquitto_passwd default); Tryggheim with one SHA-256 of a 256-bit random token: per-CONNECT auth cost differs, so the rate ratio is not an auth-for-auth comparison.',
  );
  if (params.devices !== DEFAULTS.devices) notes.push(`--devices ${params.devices}: not the 10,000 the target is stated for.`);
  if (params.gatewayEnv.length > 0) notes.push(`gateway environment overridden: ${params.gatewayEnv.map(([k, v]) => `${k}=${v}`).join(' ')} (not the production configuration)`);
  if (params.gatewayNodeOptions.length > 0) notes.push(`gateway node flags: ${params.gatewayNodeOptions.join(' ')} (a profiler slows it down)`);
  if (params.gatewayLimits.connectRatePerSec !== 'default' || params.gatewayLimits.maxUnauthenticated !== 'default') {
    notes.push(
      `gateway admission limits overridden: connectRatePerSec=${params.gatewayLimits.connectRatePerSec}, maxUnauthenticated=${params.gatewayLimits.maxUnauthenticated}`,
    );
  }

  const col = (r: TargetResult | undefined, f: (r: TargetResult) => string): string => (r === undefined ? 'not run' : f(r));
  const rows: [string, string, string, string][] = [
    ['', 'tryggheim', 'mosquitto', 'T/M'],
    ['server', col(t, (r) => r.version ?? ''), col(m, (r) => r.version ?? ''), ''],
    ['completed', col(t, (r) => (r.completed ? 'yes' : `NO (${r.stage})`)), col(m, (r) => (r.completed ? 'yes' : `NO (${r.stage})`)), ''],
    ['connected', col(t, (r) => `${r.connected}/${r.devices}`), col(m, (r) => `${r.connected}/${r.devices}`), ''],
    ['attempts', col(t, (r) => String(r.attempts)), col(m, (r) => String(r.attempts)), ''],
    ['time until all connected', col(t, (r) => fmtS(r.timeToAllMs)), col(m, (r) => fmtS(r.timeToAllMs)), fmtRatio(ratios.timeToAll)],
    ['connect rate (mean)', col(t, (r) => fmtRate(r.ratePerSec)), col(m, (r) => fmtRate(r.ratePerSec)), fmtRatio(ratios.connectRate)],
    ['connect rate (best 1 s)', col(t, (r) => fmtRate(r.peakRatePerSec)), col(m, (r) => fmtRate(r.peakRatePerSec)), ''],
    ['CONNECT→CONNACK p50', col(t, (r) => fmtMs(r.connackMs?.p50)), col(m, (r) => fmtMs(r.connackMs?.p50)), fmtRatio(ratios.connackP50)],
    ['CONNECT→CONNACK p99', col(t, (r) => fmtMs(r.connackMs?.p99)), col(m, (r) => fmtMs(r.connackMs?.p99)), fmtRatio(ratios.connackP99)],
    ['CONNECT→CONNACK max', col(t, (r) => fmtMs(r.connackMs?.max)), col(m, (r) => fmtMs(r.connackMs?.max)), ''],
    ['TCP handshake p50', col(t, (r) => fmtMs(r.tcpConnectMs?.p50)), col(m, (r) => fmtMs(r.tcpConnectMs?.p50)), ''],
    ['TCP handshake p99', col(t, (r) => fmtMs(r.tcpConnectMs?.p99)), col(m, (r) => fmtMs(r.tcpConnectMs?.p99)), ''],
    ['SYN→CONNACK p99', col(t, (r) => fmtMs(r.attemptToConnackMs?.p99)), col(m, (r) => fmtMs(r.attemptToConnackMs?.p99)), ''],
    ['server CPU, connect phase', col(t, (r) => fmtS(r.serverCpuMs)), col(m, (r) => fmtS(r.serverCpuMs)), ''],
    ['server CPU per connection', col(t, (r) => fmtMs(r.serverCpuMsPerConnection)), col(m, (r) => fmtMs(r.serverCpuMsPerConnection)), fmtRatio(ratios.serverCpuPerConnection)],
    ['server main thread busy', col(t, (r) => fmtPct(r.serverMainThreadBusy)), col(m, (r) => fmtPct(r.serverMainThreadBusy)), ''],
    ['machine busy (cores)', col(t, (r) => fmtCores(r.machineCores)), col(m, (r) => fmtCores(r.machineCores)), ''],
    ['client workers CPU', col(t, (r) => fmtS(r.clientCpuMs)), col(m, (r) => fmtS(r.clientCpuMs)), ''],
    ['RSS idle', col(t, (r) => mb(r.rssIdle)), col(m, (r) => mb(r.rssIdle)), ''],
    ['RSS all connected', col(t, (r) => mb(r.rssConnected)), col(m, (r) => mb(r.rssConnected)), fmtRatio(ratios.rssConnected)],
    ['RSS peak (VmHWM)', col(t, (r) => mb(peakRss(r))), col(m, (r) => mb(peakRss(r))), fmtRatio(ratios.rssPeak)],
    ['RSS after clients closed', col(t, (r) => mb(r.rssAfterClose)), col(m, (r) => mb(r.rssAfterClose)), ''],
    ['closing all clients', col(t, (r) => fmtS(r.clientsCloseMs)), col(m, (r) => fmtS(r.clientsCloseMs)), ''],
    ['SIGTERM → exit', col(t, (r) => (r.shutdown ? `${fmtS(r.shutdown.ms)}${r.shutdown.killed ? ' (KILLED)' : ''}` : '–')), col(m, (r) => (r.shutdown ? `${fmtS(r.shutdown.ms)}${r.shutdown.killed ? ' (KILLED)' : ''}` : '–')), ''],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i as 0 | 1 | 2 | 3].length)));
  const lines: string[] = [];
  lines.push(`connections: ${params.devices} devices, ${params.workers} client workers, ${params.concurrency} attempts in flight, up to ${params.retries} retries per device`);
  lines.push(
    `machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalGiB} GiB, node ${machine.node}, Linux ${machine.kernel}, ` +
      `ulimit -n ${machine.fdLimit.soft}/${machine.fdLimit.hard}, ${machine.date}`,
  );
  lines.push('');
  for (const row of rows) {
    lines.push(`  ${row[0].padEnd(widths[0] ?? 0)}  ${row[1].padStart(widths[1] ?? 0)}  ${row[2].padStart(widths[2] ?? 0)}  ${row[3].padStart(widths[3] ?? 0)}`.trimEnd());
  }
  lines.push('');
  for (const r of results) {
    lines.push(`[${r.name}] failed attempts by reason (client side): ${fmtCounts(r.refusals)}; gave up: ${fmtCounts(r.gaveUp)}; dropped after CONNACK: ${r.droppedAfterConnect}`);
    if (r.serverThreadCpuMs) lines.push(`[${r.name}] server CPU by thread during connect (ms): ${fmtCounts(r.serverThreadCpuMs)}`);
    if (r.tcp && Object.keys(r.tcp).length > 0) lines.push(`[${r.name}] kernel TCP counters during connect (whole netns): ${fmtCounts(r.tcp)}`);
    for (const w of r.warnings) lines.push(`[${r.name}] WARNING: ${w}`);
    if (r.metrics) lines.push(`[${r.name}] /metrics with all connected: ${fmtCounts(r.metrics)}`);
    if (r.serverLog && Object.keys(r.serverLog.events).length > 0) lines.push(`[${r.name}] server warnings: ${fmtCounts(r.serverLog.events)}`);
    if (!r.completed) lines.push(`[${r.name}] FAILED at ${r.stage}: ${r.failure ?? ''}`);
    if (r.serverLog?.tail) lines.push(`[${r.name}] server output tail:`, ...r.serverLog.tail.map((l) => `    ${l}`));
  }
  if (t !== undefined) {
    lines.push(
      `target (${params.devices} devices): all connected within ${TARGET.allConnectedWithinSec} s: ${withinTime ? 'MET' : 'NOT MET'} (${allConnected ? fmtS(t.timeToAllMs) : `${t.connected}/${params.devices} connected`}); ` +
        `RSS under ${mb(TARGET.rssUnderBytes)}: ${rssOk ? 'MET' : 'NOT MET'} (peak ${mb(tPeak)})`,
    );
  }
  for (const n of notes) lines.push(`note: ${n}`);

  const json = {
    bench: 'connections',
    command: `npm run bench -- connections ${process.argv.slice(3).join(' ')}`.trim(),
    machine,
    params,
    mosquitto: mosquittoBin ?? null,
    results,
    ratios,
    target: {
      allConnectedWithinSec: TARGET.allConnectedWithinSec,
      rssUnderBytes: TARGET.rssUnderBytes,
      allConnected,
      withinTime,
      rssOk,
      met: targetMet ?? null,
    },
    notes,
    ok,
  };
  return { ok, lines, json };
}
