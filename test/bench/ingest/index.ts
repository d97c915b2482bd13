import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startInfluxdProcess } from '../../../gateway/storage/influxd-process.js';
import { quoteIdent, runInfluxQL } from '../../../gateway/storage/influxql.js';
import { withDeadline, withScratch } from '../phase.js';
import { findMosquitto, machineInfo, sleep } from '../proc.js';
import { provision } from '../servers.js';
import type { Benchmark } from '../types.js';
import { measureCeiling } from './ceiling.js';
import { startDiy } from './diy-side.js';
import { DATABASES, resolveParams, type Device, type IngestPhase } from './params.js';
import { measurePipeline } from './pipeline.js';
import { report } from './report.js';
import { failedResult, type PhaseResult } from './results.js';
import { startGateway } from './tryggheim-side.js';

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
//
// index.ts runs the phases against one influxd; params.ts: options and set-up; ceiling.ts; pipeline.ts
// measures a pipeline (window.ts does its arithmetic, workers.ts runs the publishers, verify.ts looks up
// every acked message) started by tryggheim-side.ts or diy-side.ts; results.ts; report.ts.

export const ingestBenchmark: Benchmark = async (opts, progress) => {
  const params = resolveParams(opts);
  const machine = machineInfo();
  const mosquittoBin = findMosquitto();
  const notes: string[] = [];
  const results: PhaseResult[] = [];

  let influxdVersion = 'unknown';
  await withScratch('tryggheim-bench-ingest-', async ({ dir: tmp, children, own }) => {
    const dataDir = join(tmp, 'gateway-data');
    progress(`ingest: provisioning ${params.devices} devices in ${dataDir}`);
    const devices = provisionDevices(dataDir, params.devices);

    progress('ingest: starting influxd');
    const influxd = await startInfluxdProcess({ dataDir: join(tmp, 'influxd'), startTimeoutMs: 30_000 });
    own(influxd);
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
      const ctx: IngestPhase = { name, params, children: new Set(), all: children, stage: 'starting', aborted: false, progress, influxd };
      const run: Promise<PhaseResult> =
        name === 'ceiling'
          ? measureCeiling(ctx, devices)
          : name === 'tryggheim'
            ? measurePipeline(ctx, devices, (c) => startGateway(c, dataDir))
            : measurePipeline(ctx, devices, (c) => startDiy(c, mosquittoBin ?? '', join(tmp, 'mosquitto'), devices));
      const result = await withDeadline(ctx, params.timeoutSec, 'phase', run, (failure) => failedResult(ctx, failure));
      results.push(result);
      progress(`[${name}] ${result.completed ? 'done' : `FAILED at ${result.stage}: ${result.failure ?? ''}`}`);
      await sleep(2000); // let influxd settle (WAL snapshot) before the next phase
    }
  });
  return report(params, machine, results, notes, { influxd: influxdVersion, mosquitto: mosquittoBin });
};

/** Devices with the native adapter, four to a home (realistic: the home_id tag is written too). */
function provisionDevices(dataDir: string, count: number): Device[] {
  const width = Math.max(4, String(count - 1).length);
  return provision(dataDir, (registry) => {
    const devices: Device[] = [];
    for (let i = 0; i < count; i++) {
      const homeId = `home-${String(Math.floor(i / 4)).padStart(width, '0')}`;
      if (i % 4 === 0) registry.addHome({ id: homeId, teamId: 'team-bench' });
      const id = `sensor-${String(i).padStart(width, '0')}`;
      const { secret } = registry.addDevice({ id, kind: 'sensor', model: 'bench-multisensor', adapterId: 'tryggheim', homeId });
      devices.push({ id, secret, homeId });
    }
    return devices;
  });
}
