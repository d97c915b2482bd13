import type { InfluxdProcess } from '../../../gateway/storage/influxd-process.js';
import type { FleetDevice } from '../../../simulators/load/fleet.js';
import type { Phase } from '../phase.js';
import { parseGatewayEnv, requireBuiltGateway, splitFlags } from '../servers.js';
import { UsageError, type BenchOptions } from '../types.js';

// What an ingest run is asked: options, defaults, the target, and how the DIY pipeline and the ceiling are set up.

export const DEFAULTS = {
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
/** The goal: Tryggheim at least as fast as the pipeline with fewer guarantees. */
export const TARGET_RATIO = 1.0;
/** Below this, the report must say why (profile). */
export const EXPLAIN_BELOW = 0.8;
/** The DIY subscriber as a user would write it: batches of 5,000 lines or every second, 2 requests at once. */
export const DIY = { batchSize: 5000, flushMs: 1000, maxInFlight: 2 };
/**
 * mosquitto for the DIY pipeline: its defaults except persistence off, `max_inflight_messages 1000` and
 * `max_queued_messages 1000000`. With the default of 20 unacknowledged messages towards a client, the one
 * subscriber is starved while 1,000 devices publish (a run here: mosquitto acked 16,000/s, the subscriber
 * got 2,200/s, its queue grew without bound), and with the default queue of 1,000 mosquitto would then drop
 * acked QoS 1 messages. A user who watched their backlog would raise both; the benchmark compares against
 * that tuned pipeline, the stronger baseline (BENCHMARKS.md).
 */
export const DIY_MOSQUITTO = { maxQueuedMessages: 1_000_000, maxInflightMessages: 1000 };
export const CEILING = { batchSize: 5000, connections: 2, batches: 40 };
export const PUBLISH_STOP_DRAIN_MS = 15_000;
const PHASES = ['ceiling', 'tryggheim', 'diy'] as const;
export type PhaseName = (typeof PHASES)[number];
export const DATABASES: Record<PhaseName, string> = { ceiling: 'bench_ceiling', tryggheim: 'bench_tryggheim', diy: 'bench_diy' };

export interface Params {
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

export interface Device extends FleetDevice {
  homeId: string;
}

/** One phase of the run (ceiling, tryggheim or diy), all against the one influxd. */
export interface IngestPhase extends Phase {
  readonly name: PhaseName;
  readonly params: Params;
  readonly influxd: InfluxdProcess;
}

export function resolveParams(opts: BenchOptions): Params {
  let phases: PhaseName[] = [...PHASES];
  if (opts.only !== undefined) {
    const wanted = opts.only.split(',').map((s) => s.trim());
    const bad = wanted.filter((w) => !PHASES.includes(w as PhaseName));
    if (bad.length > 0 || wanted.length === 0)
      throw new UsageError(`--only takes a comma-separated list of ${PHASES.join(', ')} (got ${JSON.stringify(opts.only)})`);
    phases = wanted as PhaseName[];
  }
  requireBuiltGateway();
  if (opts.retries !== undefined || opts.connectRatePerSec !== undefined || opts.maxUnauthenticated !== undefined) {
    throw new UsageError('--retries, --connect-rate and --max-unauthenticated are options of the connections benchmark');
  }
  const gatewayNodeOptions = splitFlags(opts.gatewayNodeOptions);
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
    gatewayEnv: parseGatewayEnv(opts.gatewayEnv),
    profile: opts.profile === true,
  };
}
