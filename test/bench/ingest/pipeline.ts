import type { ChildProcess } from 'node:child_process';
import type { IngestWorkerResult } from '../ingest-worker.js';
import { fmtCounts } from '../format.js';
import { enter, orDeathOf, say, serverLogOf, stoppedLine, type ServerLog, type Shutdown } from '../phase.js';
import { exited, memoryOf, nowMs, sleep } from '../proc.js';
import type { SubscriberHandle } from './diy-side.js';
import { DATABASES, PUBLISH_STOP_DRAIN_MS, type Device, type IngestPhase } from './params.js';
import { fmtRate, fmtS } from './report.js';
import type { Mark, PipelineResult } from './results.js';
import { Sampler, probe } from './sampling.js';
import { collectProfile } from './tryggheim-side.js';
import { drain, verify } from './verify.js';
import { addConnectReports, addPublisherResults, backlogOf, measureWindow, windowRates } from './window.js';
import { startWorkers } from './workers.js';

// One pipeline (tryggheim or diy) from start to stop: connect the publishers, publish through a warm-up and
// the measured window, stop them, drain, verify in InfluxDB, close, stop the server.

/** A started pipeline, whichever side. */
export interface Server {
  pid: number;
  port: number;
  child: ChildProcess;
  version: string;
  startToReadyMs: number;
  /** Tryggheim: /metrics, parsed. */
  metrics?: () => Promise<Record<string, number>>;
  /** DIY: the subscriber. */
  subscriber?: SubscriberHandle;
  log: () => ServerLog;
  /** Stops everything this target started (gateway, or subscriber + mosquitto). */
  stop: () => Promise<Shutdown>;
  profileDir?: string;
}

export async function measurePipeline(
  ctx: IngestPhase,
  devices: readonly Device[],
  start: (ctx: IngestPhase) => Promise<Server>,
): Promise<PipelineResult> {
  const { params } = ctx;
  const name = ctx.name === 'diy' ? 'diy' : 'tryggheim';
  const result: PipelineResult = { name, completed: false, stage: ctx.stage, samples: [], warnings: [] };

  enter(ctx, 'starting server');
  const server = await start(ctx);
  result.server = server.version;
  result.startToReadyMs = server.startToReadyMs;
  say(ctx, `ready on 127.0.0.1:${server.port} (pid ${server.pid}) after ${fmtS(server.startToReadyMs)}`);
  const orDeath = orDeathOf(server.child, server.log);

  enter(ctx, 'connecting publishers');
  const workers = startWorkers(ctx, server.port, devices);
  result.connect = addConnectReports(await orDeath(Promise.all(workers.map((w) => w.connected))));
  say(ctx, `${result.connect.connected}/${devices.length} publishers connected in ${fmtS(result.connect.ms)}`);
  if (result.connect.connected === 0) throw new Error(`no publisher connected: ${fmtCounts(result.connect.failures)}`);
  if (result.connect.failed > 0)
    result.warnings.push(`${result.connect.failed} devices never connected (${fmtCounts(result.connect.failures)})`);
  await sleep(1000);

  const readings = probe(ctx, server, workers, orDeath);
  const subscriberPid = server.subscriber?.child.pid;
  enter(ctx, 'publishing');
  const goAt = nowMs();
  const sampler = new Sampler(ctx, server, workers, readings, result, goAt);
  let m0: Mark;
  let m1: Mark;
  let done: IngestWorkerResult[];
  try {
    for (const w of workers) w.send({ type: 'go' });
    await orDeath(sleep(params.warmupSec * 1000));
    m0 = await readings.mark();
    say(ctx, `warm-up over, measuring ${params.durationSec} s`);
    await orDeath(sleep(params.durationSec * 1000));
    m1 = await readings.mark();
    enter(ctx, 'stopping publishers');
    for (const w of workers) w.send({ type: 'stop', drainMs: PUBLISH_STOP_DRAIN_MS });
    done = await orDeath(Promise.all(workers.map((w) => w.stopped)));
  } finally {
    sampler.quiet();
  }
  const stopAt = nowMs();
  const m1Rss = memoryOf(server.pid)?.rss;
  const m1SubRss = subscriberPid === undefined ? undefined : memoryOf(subscriberPid)?.rss;

  const counters = addPublisherResults(result, done);
  measureWindow(result, done, m0, m1, server.metrics !== undefined);

  // Drain: everything acked must reach InfluxDB.
  enter(ctx, 'draining');
  say(ctx, `publishers stopped: ${counters.acked} acked, ${result.unackedAtStop} without ack; waiting until everything acked is stored`);
  await drain(ctx, server, counters.acked, stopAt, result, orDeath);
  await sampler.stop();
  say(ctx, `drained in ${fmtS(result.drainMs)}${result.drainComplete === true ? '' : ' (INCOMPLETE)'}`);

  enter(ctx, 'verifying in InfluxDB');
  const { present, ...verification } = await verify(ctx, DATABASES[ctx.name], devices, workers, done);
  result.verification = verification;
  windowRates(result, done, workers, devices, present, m0, m1);
  const v = result.verification;
  say(
    ctx,
    `verified: ${v.ackedStored}/${v.ackedTotal} acked messages are in InfluxDB, ${v.ackedMissing} missing; end-to-end ${fmtRate(result.rates?.endToEnd)}`,
  );
  if (v.ackedMissing > 0)
    result.warnings.push(`${v.ackedMissing} acked messages are NOT in InfluxDB (e.g. ${v.missingSample.slice(0, 5).join(', ')})`);

  // Backlog over time.
  result.backlog = backlogOf(result.samples, m0.at - goAt, m1.at - goAt, server.metrics !== undefined);
  result.rss = {
    serverAtWindowEnd: m1Rss,
    serverPeak: Math.max(sampler.peakServerRss, memoryOf(server.pid)?.hwm ?? 0),
    ...(subscriberPid !== undefined
      ? { subscriberAtWindowEnd: m1SubRss, subscriberPeak: Math.max(sampler.peakSubscriberRss, memoryOf(subscriberPid)?.hwm ?? 0) }
      : {}),
  };

  enter(ctx, 'closing publishers');
  for (const w of workers) w.send({ type: 'close' });
  await orDeath(Promise.all(workers.map((w) => w.closed)));
  await Promise.all(workers.map((w) => exited(w.child)));

  enter(ctx, 'stopping server');
  result.shutdown = await server.stop();
  result.serverLog = serverLogOf(server.log(), result.shutdown);
  say(ctx, stoppedLine(result.shutdown, fmtS));

  if (server.profileDir !== undefined) {
    const profile = collectProfile(server.profileDir, m0, m1);
    if (profile === undefined) result.warnings.push('--profile: the gateway wrote no .cpuprofile (did it exit cleanly?)');
    else result.profile = profile;
  }

  enter(ctx, 'done');
  result.stage = 'done';
  result.completed = true;
  return result;
}
