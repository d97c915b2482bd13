import { join } from 'node:path';
import type { WorkerDevice } from '../connections-worker.js';
import { withDeadline, withScratch } from '../phase.js';
import { findMosquitto, machineInfo } from '../proc.js';
import { provision } from '../servers.js';
import type { Benchmark } from '../types.js';
import { measure } from './measure.js';
import { emptyResult, resolveParams, type TargetPhase, type TargetResult } from './params.js';
import { report } from './report.js';
import { startMosquitto, startTryggheim } from './servers.js';

// `npm run bench -- connections`: N devices (default 10,000) connect at once, first to the Tryggheim
// gateway (its own process, production config apart from ports and log level), then to Debian's mosquitto
// with a password file for the same devices. The clients run in separate worker processes, so each
// server's RSS and CPU time are its own. Figures: connect rate, time until all are connected,
// CONNECT→CONNACK latency, refusals by reason, server RSS (idle, all connected, peak) and CPU time.
//
// index.ts runs the targets one after the other; params.ts: options and result shape; servers.ts starts
// a server, workers.ts the client workers; measure.ts: one target from start to stop; report.ts.

export const connectionsBenchmark: Benchmark = async (opts, progress) => {
  const params = resolveParams(opts);
  const machine = machineInfo();
  const mosquittoBin = findMosquitto();
  const results: TargetResult[] = [];
  const notes: string[] = [];

  await withScratch('tryggheim-bench-', async ({ dir: tmp, children }) => {
    const dataDir = join(tmp, 'gateway-data');
    progress(`connections: provisioning ${params.devices} devices in ${dataDir}`);
    const t0 = performance.now();
    const devices = provisionDevices(dataDir, params.devices);
    const provisionMs = performance.now() - t0;
    progress(`connections: provisioned in ${(provisionMs / 1000).toFixed(1)} s`);

    for (const name of params.targets) {
      if (name === 'mosquitto' && mosquittoBin === undefined) {
        notes.push('mosquitto not found (/usr/sbin/mosquitto, mosquitto_passwd): comparison skipped');
        continue;
      }
      const ctx: TargetPhase = { name, params, devices, children, stage: 'starting', aborted: false, progress };
      const run =
        name === 'tryggheim'
          ? measure(ctx, () => startTryggheim(ctx, dataDir))
          : measure(ctx, () => startMosquitto(ctx, mosquittoBin ?? '', join(tmp, 'mosquitto'), devices));
      const result = await withDeadline(ctx, params.timeoutSec, 'target', run, (failure) => ({ ...emptyResult(ctx), failure }));
      results.push(result);
      progress(`[${name}] ${result.completed ? 'done' : `FAILED at ${result.stage}: ${result.failure ?? ''}`}`);
    }
  });

  return report(params, machine, results, notes, mosquittoBin);
};

function provisionDevices(dataDir: string, count: number): WorkerDevice[] {
  const width = String(count - 1).length;
  return provision(dataDir, (registry) => {
    const devices: WorkerDevice[] = [];
    for (let i = 0; i < count; i++) {
      const id = `bench-${String(i).padStart(Math.max(3, width), '0')}`;
      const { secret } = registry.addDevice({ id, kind: 'sensor', model: 'bench-sensor', adapterId: 'bench' });
      devices.push({ id, secret });
    }
    return devices;
  });
}
