import http from 'node:http';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import { toLine } from '../../../gateway/storage/line-protocol.js';
import { enter, say } from '../phase.js';
import { cpuTimeOf, machineCpu } from '../proc.js';
import { CEILING, DATABASES, type Device, type IngestPhase } from './params.js';
import { fmt2, fmtRate } from './report.js';
import type { CeilingResult } from './results.js';

// The ceiling: how many points per second influxd itself takes, from pre-built line protocol POSTed to /write.

/** Lines exactly as the gateway writes them (toLine of canonical measurement events), built before timing. */
function ceilingBatches(devices: readonly Device[]): Buffer[] {
  const batches: Buffer[] = [];
  const base = Date.now() - 3_600_000;
  let n = 0;
  for (let b = 0; b < CEILING.batches; b++) {
    const lines: string[] = [];
    for (let i = 0; i < CEILING.batchSize; i++, n++) {
      const dev = devices[n % devices.length] ?? { id: 'sensor-x', homeId: 'home-x', secret: '' };
      const observed = new Date(base + Math.floor(n / devices.length));
      const event: CanonicalEvent = {
        eventId: ((n * 2654435761) % 2 ** 32).toString(16).padStart(8, '0') + '0'.repeat(24),
        deviceId: dev.id,
        homeId: dev.homeId,
        adapter: { id: 'tryggheim', version: 1 },
        observedAt: observed.toISOString(),
        receivedAt: new Date(observed.getTime() + 3).toISOString(),
        seq: n,
        body: {
          type: 'measurement',
          readings: {
            temperature_c: 21.53,
            humidity_pct: 41.2,
            illuminance_lux: 312.5,
            motion: false,
            bed_occupied: true,
            chair_occupied: false,
            contact_open: false,
          },
        },
      };
      lines.push(toLine(event));
    }
    batches.push(Buffer.from(lines.join('\n')));
  }
  return batches;
}

export async function measureCeiling(ctx: IngestPhase, devices: readonly Device[]): Promise<CeilingResult> {
  const result: CeilingResult = {
    name: 'ceiling',
    completed: false,
    stage: ctx.stage,
    connections: CEILING.connections,
    batchSize: CEILING.batchSize,
    distinctPoints: CEILING.batches * CEILING.batchSize,
  };
  enter(ctx, 'building line protocol');
  const batches = ceilingBatches(devices);
  result.bytesPerLine = (batches[0]?.length ?? 0) / CEILING.batchSize;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CEILING.connections });
  const url = new URL(`/write?db=${DATABASES.ceiling}&precision=n`, ctx.influxd.url);
  const post = (body: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode === 204);
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        resolve(false);
      });
      req.end(body);
    });
  // One warm-up pass over a few batches (connections, shard creation).
  enter(ctx, 'warm-up');
  for (const b of batches.slice(0, 2)) await post(b);
  enter(ctx, 'posting');
  let next = 0;
  let points = 0;
  let requests = 0;
  let failed = 0;
  const end = performance.now() + ctx.params.ceilingSec * 1000;
  const cpu0 = cpuTimeOf(ctx.influxd.pid) ?? 0;
  const m0 = machineCpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CEILING.connections }, async () => {
      while (performance.now() < end && !ctx.aborted) {
        const body = batches[next++ % batches.length];
        if (body === undefined) break;
        requests += 1;
        if (await post(body)) points += CEILING.batchSize;
        else failed += 1;
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu1 = cpuTimeOf(ctx.influxd.pid) ?? 0;
  const m1 = machineCpu();
  agent.destroy();
  Object.assign(result, {
    points,
    requests,
    failedRequests: failed,
    ms,
    pointsPerSec: points / (ms / 1000),
    influxdCores: (cpu1 - cpu0) / ms,
    ...(m0 && m1 ? { machineBusy: (m1.busy - m0.busy) / ms } : {}),
  });
  say(ctx, `${points} points in ${(ms / 1000).toFixed(1)} s: ${fmtRate(result.pointsPerSec)} (influxd ${fmt2(result.influxdCores)} cores)`);
  result.stage = 'done';
  result.completed = true;
  return result;
}
