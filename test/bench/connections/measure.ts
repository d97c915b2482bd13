import type { WorkerResult } from '../connections-worker.js';
import { fmtCounts, fmtMs, mb, round2 } from '../format.js';
import { enter, orDeathOf, say, serverLogOf, stopServer, stoppedLine } from '../phase.js';
import {
  cpuDelta,
  cpuTimeOf,
  exited,
  machineCpu,
  memoryOf,
  nowMs,
  percentile,
  quantiles,
  sleep,
  tcpCounters,
  threadCpuOf,
} from '../proc.js';
import { parseMetrics } from '../servers.js';
import { emptyResult, type TargetPhase, type TargetResult } from './params.js';
import { fmtRate, fmtS } from './report.js';
import type { Server } from './servers.js';
import { startWorkers } from './workers.js';

// One target from start to stop: idle RSS, every device connects (CPU of server, workers and machine, kernel
// TCP counters), hold them all (RSS, /metrics), close them, RSS afterwards, SIGTERM.

const WANTED_METRICS = [
  'tryggheim_mqtt_clients',
  'tryggheim_mqtt_connections',
  'tryggheim_mqtt_unauthenticated_connections',
  'tryggheim_mqtt_connections_accepted_total',
  'tryggheim_mqtt_connections_refused_total',
  'tryggheim_mqtt_auth_failures_total',
  'tryggheim_mqtt_packets_refused_total',
];

export async function measure(ctx: TargetPhase, start: () => Promise<Server>): Promise<TargetResult> {
  const { params } = ctx;
  const result = emptyResult(ctx);

  enter(ctx, 'starting server');
  const server = await start();
  result.version = server.version;
  result.startToReadyMs = server.startToReadyMs;
  say(ctx, `ready on 127.0.0.1:${server.port} (pid ${server.pid}) after ${(server.startToReadyMs / 1000).toFixed(1)} s`);
  const orServerDeath = orDeathOf(server.child, server.log);

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
    say(
      ctx,
      `${elapsed.toFixed(1)} s: ${connected}/${params.devices} connected, ${failed} failed attempts, RSS ${mb(memoryOf(server.pid)?.rss)}`,
    );
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
    result.machineCores = {
      available: round2((busy + machine1.idle - machine0.idle) / wall),
      busy: round2(busy / wall),
      bench: round2(bench / wall),
      others: round2(Math.max(0, busy - bench) / wall),
      steal: round2((machine1.steal - machine0.steal) / wall),
    };
  }
  result.serverThreadCpuMs = Object.fromEntries(
    Object.entries(threads)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => [k, Math.round(v)]),
  );
  if (threads.main !== undefined && result.timeToAllMs !== undefined) result.serverMainThreadBusy = threads.main / result.timeToAllMs;
  if (cpu0 !== undefined && cpu1 !== undefined) {
    result.serverCpuMs = cpu1 - cpu0;
    if (result.connected > 0) result.serverCpuMsPerConnection = result.serverCpuMs / result.connected;
  }
  say(
    ctx,
    `${result.connected}/${params.devices} connected in ${fmtS(result.timeToAllMs)} (${fmtRate(result.ratePerSec)}), ` +
      `CONNACK p50 ${fmtMs(result.connackMs?.p50)} p99 ${fmtMs(result.connackMs?.p99)}`,
  );

  enter(ctx, 'holding connections');
  await orServerDeath(sleep(2000));
  result.rssConnected = memoryOf(server.pid)?.rss;
  if (server.metrics !== undefined) {
    result.metrics = parseMetrics(await orServerDeath(server.metrics()), WANTED_METRICS);
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
    result.warnings.push(
      `${result.droppedAfterConnect} connections were closed by the server after their CONNACK (${fmtCounts(result.dropReasons)})`,
    );
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
  result.shutdown = await stopServer(server.child, 15_000);
  result.serverLog = serverLogOf(server.log(), result.shutdown);
  say(ctx, stoppedLine(result.shutdown, fmtS));

  enter(ctx, 'done');
  result.stage = 'done';
  result.completed = true;
  return result;
}

/** Adds up what the client workers saw: counts, latency percentiles, time until all, the best one-second rate. */
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
    result.connackMs = quantiles(connack);
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
