import type { ProfileSummary } from '../cpuprofile.js';
import type { MachineCpu } from '../proc.js';
import { CEILING, type IngestPhase } from './params.js';

// What each phase of an ingest run produces. Times in ms, sizes in bytes, CPU in ms (cumulative) or cores.

export interface Sample {
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

/** A reading at the start or the end of the measured window. */
export interface Mark {
  at: number;
  /** CLOCK_MONOTONIC µs, for cutting the CPU profile. */
  monoUs: number;
  serverCpuMs: number;
  serverThreads: Record<string, number>;
  subscriberCpuMs: number;
  influxdCpuMs: number;
  workersCpuMs: number;
  machine: MachineCpu | undefined;
  stored: number;
  metrics?: Record<string, number>;
}

export interface Verification {
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

export interface PipelineResult {
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

export interface CeilingResult {
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

export type PhaseResult = PipelineResult | CeilingResult;

/** The result of a phase that threw or ran out of time at its current stage. */
export function failedResult(ctx: IngestPhase, failure: string): PhaseResult {
  return ctx.name === 'ceiling'
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
}
