import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startInfluxdProcess } from '../../../gateway/storage/influxd-process.js';
import { quoteIdent, runInfluxQL } from '../../../gateway/storage/influxql.js';
import { withDeadline, withScratch } from '../phase.js';
import { machineInfo } from '../proc.js';
import type { Benchmark } from '../types.js';
import { measureAlerts } from './measure.js';
import { DATABASE, resolveParams, type AlertsPhase } from './params.js';
import { provisionDistrict } from './provision.js';
import { report } from './report.js';
import type { AlertsResult } from './results.js';

// `npm run bench -- alerts`: how fast an alarm reaches a dashboard while the gateway carries its everyday
// load. With background telemetry from 1,000 devices at 5,000 msg/s (QoS 1, stored in InfluxDB), 200 fall
// alarms are published at random moments and a dashboard follows GET /api/v1/alerts/stream (SSE) as a
// service account of the team: publish → `raised` received, p50/p99 (goal p99 ≤ 50 ms). Under the same load
// 100 doors are opened and left open in homes whose door-left-open rule is set to 1 minute: the alert's
// arrival − (opening + 1 min) is the lateness of the rules' persisted deadline timers (goal ≤ 1 s).
//
// The gateway runs as in production, compiled, in its own process (`node dist/gateway/cli/main.js start`,
// as in the ingest bench), so its event loop is not shared with the bench's; influxd (Debian 1.6.7) is
// started by the bench. Publishers are child processes: telemetry-worker.ts (simulators/load fleets) and
// events-worker.ts (the alarms). The SSE client runs in the bench process, which does little else.
//
// index.ts sets up and runs; params.ts options and goals; provision.ts the district; measure.ts the run;
// workers.ts the publisher processes; sse-client.ts the dashboard; results.ts, report.ts.

export const alertsBenchmark: Benchmark = async (opts, progress) => {
  const params = resolveParams(opts);
  const machine = machineInfo();
  const loadBefore = loadavg();
  const result: AlertsResult = { completed: false, stage: 'starting', alarms: [], samples: [], warnings: [] };
  let influxdVersion = 'unknown';

  await withScratch('tryggheim-bench-alerts-', async ({ dir: tmp, children, own }) => {
    const dataDir = join(tmp, 'gateway-data');
    progress(`alerts: provisioning ${params.devices} + ${params.falls} fall sensors + ${params.doors} locks in ${dataDir}`);
    const district = provisionDistrict(dataDir, params);
    progress(
      `alerts: ${district.homes} homes in team ${district.serviceAccount.teamId}; night window ${district.care.night.from}–${district.care.night.to} and a dose at ${district.care.dose} (${district.care.timeZone}), hours from now`,
    );

    progress('alerts: starting influxd');
    const influxd = await startInfluxdProcess({ dataDir: join(tmp, 'influxd'), startTimeoutMs: 30_000 });
    own(influxd);
    influxdVersion = /v?(\d+\.\d+\.\d+\S*)/.exec(spawnSync('influxd', ['version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
    await runInfluxQL({ url: influxd.url, database: '_internal', timeoutMs: 10_000 }, `CREATE DATABASE ${quoteIdent(DATABASE)}`, {
      method: 'POST',
    });
    progress(`alerts: influxd ${influxdVersion} on ${influxd.url} (pid ${influxd.pid})`);

    const ctx: AlertsPhase = {
      name: 'alerts',
      params,
      children: new Set(),
      all: children,
      stage: 'starting',
      aborted: false,
      progress,
      influxd,
    };
    await withDeadline(
      ctx,
      params.timeoutSec,
      'phase',
      measureAlerts(ctx, dataDir, district, result).then(() => result),
      (failure) => {
        result.failure = failure;
        result.stage = ctx.stage;
        return result;
      },
    );
  });
  return report(params, machine, result, { influxd: influxdVersion }, loadBefore);
};
