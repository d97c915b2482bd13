import type { DiyCounters } from '../diy-subscriber.js';
import { mb } from '../format.js';
import { say } from '../phase.js';
import { cpuTimeOf, machineCpu, memoryOf, nowMs, sleep, threadCpuOf } from '../proc.js';
import type { IngestPhase } from './params.js';
import type { Server } from './pipeline.js';
import { fmt2, fmtRate } from './report.js';
import type { Mark, PipelineResult, Sample } from './results.js';
import type { WorkerHandle } from './workers.js';

// Readings of a running pipeline: how much is stored, CPU of every process, RSS. A mark at each end of the
// measured window; a sample every second from `go` to the end of the drain (with a progress line every 2 s).

export interface Probe {
  /** Points stored so far: the gateway's /metrics, or the DIY subscriber's counters. */
  stored(): Promise<{ stored: number; metrics?: Record<string, number>; diy?: DiyCounters }>;
  mark(): Promise<Mark>;
  workersCpu(): number;
}

export function probe(
  ctx: IngestPhase,
  server: Server,
  workers: readonly WorkerHandle[],
  orDeath: <T>(p: Promise<T>) => Promise<T>,
): Probe {
  const workersCpu = (): number => workers.reduce((n, w) => n + (cpuTimeOf(w.child.pid ?? 0) ?? 0), 0);
  const stored: Probe['stored'] = async () => {
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
  return { stored, mark, workersCpu };
}

/** Samples into `result.samples` from now on, until stop(); keeps the peak RSS of the server and the subscriber. */
export class Sampler {
  peakServerRss = 0;
  peakSubscriberRss = 0;
  private on = true;
  private readonly loop: Promise<void>;
  private readonly ticker: NodeJS.Timeout;
  private readonly subscriberPid: number | undefined;

  constructor(
    private readonly ctx: IngestPhase,
    private readonly server: Server,
    private readonly workers: readonly WorkerHandle[],
    private readonly probe: Probe,
    private readonly result: PipelineResult,
    private readonly goAt: number,
  ) {
    this.subscriberPid = server.subscriber?.child.pid;
    this.loop = (async () => {
      while (this.on && !ctx.aborted) {
        const t = performance.now();
        await this.sampleOnce();
        await sleep(Math.max(0, 1000 - (performance.now() - t)));
      }
    })();
    this.ticker = setInterval(() => {
      this.tick();
    }, 2000);
  }

  async sampleOnce(): Promise<void> {
    const { server, subscriberPid } = this;
    const s = await this.probe.stored().catch(() => undefined);
    const rss = memoryOf(server.pid)?.rss ?? NaN;
    const subRss = subscriberPid === undefined ? undefined : memoryOf(subscriberPid)?.rss;
    this.peakServerRss = Math.max(this.peakServerRss, rss || 0);
    this.peakSubscriberRss = Math.max(this.peakSubscriberRss, subRss ?? 0);
    const sample: Sample = {
      t: Math.round((nowMs() - this.goAt) / 100) / 10,
      acked: this.workers.reduce((n, w) => n + w.progress.acked, 0),
      serverCpuMs: cpuTimeOf(server.pid) ?? NaN,
      influxdCpuMs: cpuTimeOf(this.ctx.influxd.pid) ?? NaN,
      workersCpuMs: this.probe.workersCpu(),
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
    this.result.samples.push(sample);
  }

  /** No more progress lines (the publishers have stopped). */
  quiet(): void {
    clearInterval(this.ticker);
  }

  /** One last sample, then no more. */
  async stop(): Promise<void> {
    this.quiet();
    await this.sampleOnce();
    this.on = false;
    await this.loop;
  }

  private tick(): void {
    const last = this.result.samples.at(-1);
    const prev = this.result.samples.at(-2);
    if (!last || !prev) return;
    const dt = last.t - prev.t || 1;
    const backlog =
      last.journalEntries !== undefined
        ? `journal ${last.journalEntries}`
        : `acked − written ${Math.max(0, last.acked - (last.written ?? 0))} (subscriber holds ${last.pending ?? '–'})`;
    const storedNow = last.pointsWritten ?? last.written ?? 0;
    const storedPrev = prev.pointsWritten ?? prev.written ?? 0;
    say(
      this.ctx,
      `${last.t.toFixed(0)} s: acked ${fmtRate((last.acked - prev.acked) / dt)}, stored ${fmtRate((storedNow - storedPrev) / dt)}, ${backlog}, ` +
        `server CPU ${fmt2((last.serverCpuMs - prev.serverCpuMs) / dt / 1000)} cores, RSS ${mb(last.serverRss)}`,
    );
  }
}
