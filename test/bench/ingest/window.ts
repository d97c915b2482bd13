import type { IngestWorkerResult } from '../ingest-worker.js';
import type { ConnectReport, FleetCounters } from '../../../simulators/load/fleet.js';
import { fmtCounts, round2 } from '../format.js';
import { cpuDelta, quantiles } from '../proc.js';
import type { Device } from './params.js';
import { pickMetrics } from './tryggheim-side.js';
import type { Mark, PipelineResult, Sample } from './results.js';
import type { WorkerHandle } from './workers.js';

// The arithmetic of a pipeline run: what the publishers saw added up, and the measured window between two
// marks (acks, latency, cores, rates, backlog).

export function addConnectReports(reports: readonly ConnectReport[]): NonNullable<PipelineResult['connect']> {
  const connect = { connected: 0, failed: 0, failures: {} as Record<string, number>, ms: 0 };
  for (const r of reports) {
    connect.connected += r.connected;
    connect.failed += r.failed;
    connect.ms = Math.max(connect.ms, r.elapsedMs);
    for (const [k, v] of Object.entries(r.failures)) connect.failures[k] = (connect.failures[k] ?? 0) + v;
  }
  return connect;
}

/** Merges what the publishers saw after their stop into `result`; returns the summed counters. */
export function addPublisherResults(result: PipelineResult, done: readonly IngestWorkerResult[]): FleetCounters {
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
  return counters;
}

/** Acks, PUBACK latency, stored points and cores of every process between the marks m0 and m1. */
export function measureWindow(result: PipelineResult, done: readonly IngestWorkerResult[], m0: Mark, m1: Mark, gateway: boolean): void {
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
    result.ackLatencyMs = quantiles(latencies);
  }
  const cores = (a: number, b: number): number => (b - a) / windowMs;
  const threads = cpuDelta(m0.serverThreads, m1.serverThreads);
  result.cores = {
    server: cores(m0.serverCpuMs, m1.serverCpuMs),
    ...(gateway
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
}

/**
 * The window's rates once InfluxDB has been read (`present`: stored seqs by device): acked, stored, and
 * end-to-end (acked in the window and stored), and CPU per end-to-end message.
 */
export function windowRates(
  result: PipelineResult,
  done: readonly IngestWorkerResult[],
  workers: readonly WorkerHandle[],
  devices: readonly Device[],
  present: Map<string, Set<number>>,
  m0: Mark,
  m1: Mark,
): void {
  let ackedStoredInWindow = 0;
  for (const [k, d] of done.entries()) {
    const offset = workers[k]?.offset ?? 0;
    const r = d.records;
    for (let i = 0; i < r.count; i++) {
      const at = r.ackedAt[i] ?? 0;
      if (at < m0.at || at >= m1.at) continue;
      const dev = devices[offset + (r.device[i] ?? 0)];
      if (dev !== undefined && present.get(dev.id)?.has(r.seq[i] ?? -1) === true) ackedStoredInWindow += 1;
    }
  }
  result.ackedStoredInWindow = ackedStoredInWindow;
  const sec = (m1.at - m0.at) / 1000;
  const storedInWindow = result.storedInWindow ?? 0;
  result.rates = {
    acked: (result.ackedInWindow ?? 0) / sec,
    stored: storedInWindow / sec,
    endToEnd: Math.min(ackedStoredInWindow, storedInWindow) / sec,
  };
  if (result.rates.endToEnd > 0 && result.cores) {
    result.cpuUsPerMessage = {
      pipeline: ((result.cores.server + (result.cores.subscriber ?? 0)) * 1e6) / result.rates.endToEnd,
      influxd: (result.cores.influxd * 1e6) / result.rates.endToEnd,
    };
  }
}

/** The backlog (journal entries, or acked by mosquitto − written by the subscriber): its maximum, and at both ends of the window. */
export function backlogOf(samples: readonly Sample[], from: number, to: number, gateway: boolean): NonNullable<PipelineResult['backlog']> {
  const backlog = (s: Sample): number => s.journalEntries ?? Math.max(0, s.acked - (s.written ?? 0));
  const inWindow = samples.filter((s) => s.t * 1000 >= from && s.t * 1000 <= to);
  return {
    what: gateway ? 'tryggheim_journal_entries' : 'acked by mosquitto − written by the subscriber',
    max: Math.max(0, ...samples.map(backlog)),
    atWindowStart: inWindow[0] ? backlog(inWindow[0]) : NaN,
    atWindowEnd: inWindow.at(-1) ? backlog(inWindow.at(-1) as Sample) : NaN,
  };
}
