import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeProfile, type CpuProfile } from '../cpuprofile.js';
import { stopServer } from '../phase.js';
import { parseMetrics, startGatewayProcess } from '../servers.js';
import { DATABASES, type IngestPhase } from './params.js';
import type { Server } from './pipeline.js';
import type { Mark, PipelineResult } from './results.js';

// Pipeline (a): the compiled gateway, writing to its own database of the bench's influxd; its /metrics say
// how far it has got. With --profile it runs under --cpu-prof, and its profile is summarised here.

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

/** The non-zero ones. */
export function pickMetrics(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== 0));
}

export async function startGateway(ctx: IngestPhase, dataDir: string): Promise<Server> {
  const { params } = ctx;
  const profileDir = params.profile ? join(dataDir, '..', 'cpu-profile') : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const nodeOptions = [...params.gatewayNodeOptions, ...(profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const env: Record<string, string> = {
    TRYGGHEIM_INFLUX__URL: ctx.influxd.url,
    TRYGGHEIM_INFLUX__API_VERSION: 'v1',
    TRYGGHEIM_INFLUX__DATABASE: DATABASES.tryggheim,
    ...Object.fromEntries(params.gatewayEnv),
  };
  const gw = await startGatewayProcess(ctx, { dataDir, nodeOptions, env, fdLimit: params.devices + 512 });
  return {
    pid: gw.pid,
    port: gw.port,
    child: gw.child,
    version: `tryggheim (node ${process.version}${nodeOptions.length > 0 ? ` ${nodeOptions.join(' ')}` : ''})`,
    startToReadyMs: gw.startToReadyMs,
    metrics: async () => parseMetrics(await gw.metricsText(), WANTED_METRICS),
    log: gw.log,
    stop: () => stopServer(gw.child, 30_000),
    ...(profileDir !== undefined ? { profileDir } : {}),
  };
}

/**
 * The gateway's .cpuprofile (undefined if it wrote none), copied out of the scratch dir and summarised over
 * the measured window when its clock covers it.
 */
export function collectProfile(profileDir: string, m0: Mark, m1: Mark): PipelineResult['profile'] {
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) return undefined;
  const keep = join(tmpdir(), `tryggheim-ingest-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
  copyFileSync(join(profileDir, file), keep);
  const profile = JSON.parse(readFileSync(keep, 'utf8')) as CpuProfile;
  // The profile's clock is CLOCK_MONOTONIC µs, like process.hrtime here: cut out the measured window.
  const aligned = profile.startTime < m0.monoUs && profile.endTime > m1.monoUs;
  const summary = summarizeProfile(profile, aligned ? { fromUs: m0.monoUs, toUs: m1.monoUs } : {});
  return { file: keep, summary, window: aligned ? 'measured' : 'whole run' };
}
