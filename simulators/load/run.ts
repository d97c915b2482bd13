import { createFleet, type FleetDevice } from './fleet.js';

// `tryggheim sim load`: N devices publishing native measurements at a total rate R for S seconds, then a
// summary (achieved rate, acks, refusals, PUBACK latency). The ingest benchmark drives the same fleet.ts
// with its own bookkeeping; this is the operator's front door to it.

export interface LoadOptions {
  /** `mqtt://host:port` */
  broker: string;
  devices: readonly FleetDevice[];
  /** Total messages per second across all devices; absent: as fast as the acks allow. */
  ratePerSec?: number;
  durationMs: number;
  /** QoS 1 publishes per device without a PUBACK (default 8). */
  window?: number;
  connectConcurrency?: number;
  seed?: number;
  /** How long to wait for the last acks after the run (default 10 s). */
  drainMs?: number;
  onProgress?: (p: { phase: 'connect' | 'publish' | 'drain'; elapsedMs: number; acknowledged: number; published: number }) => void;
}

export interface LoadSummary {
  readonly devices: number;
  readonly connected: number;
  /** Connection refusals by CONNACK code (`connack_rc_4`: bad credentials, `connack_rc_5`: not authorized). */
  readonly refused: Readonly<Record<string, number>>;
  /** Devices that could not connect for other reasons (timeouts, closed sockets), by reason. */
  readonly connectFailures: Readonly<Record<string, number>>;
  readonly published: number;
  readonly acknowledged: number;
  readonly failed: number;
  readonly missingAtEnd: number;
  readonly durationMs: number;
  readonly targetRate: number | null;
  readonly achievedRate: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  readonly errors: Readonly<Record<string, number>>;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const n = opts.devices.length;
  if (n === 0) throw new RangeError('sim load needs at least one device');
  const intervalMs = opts.ratePerSec === undefined ? undefined : (n * 1000) / opts.ratePerSec;
  const fleet = createFleet({
    url: opts.broker,
    devices: opts.devices,
    window: opts.window ?? 8,
    connectConcurrency: opts.connectConcurrency ?? 50,
    connectAttempts: 3,
    intervalMs,
    seed: opts.seed ?? 1,
    // The device clock of a load run is the wall clock: the readings are dated now.
    now: () => performance.now(),
  });
  const t0 = performance.now();
  const tick = (phase: 'connect' | 'publish' | 'drain'): void => {
    const c = fleet.counters();
    opts.onProgress?.({ phase, elapsedMs: performance.now() - t0, acknowledged: c.acked, published: c.published });
  };
  try {
    const report = await fleet.connect();
    const refused: Record<string, number> = {};
    const connectFailures: Record<string, number> = {};
    for (const [reason, count] of Object.entries(report.failures)) {
      if (reason.startsWith('connack_rc_')) refused[reason] = count;
      else connectFailures[reason] = count;
    }
    const start = performance.now();
    fleet.start();
    const ticker = setInterval(() => tick('publish'), 250);
    await new Promise((r) => setTimeout(r, opts.durationMs));
    clearInterval(ticker);
    const durationMs = performance.now() - start;
    tick('drain');
    const missingAtEnd = await fleet.stop(opts.drainMs ?? 10_000);
    const c = fleet.counters();
    const rec = fleet.records();
    const lat = new Float64Array(rec.count);
    for (let i = 0; i < rec.count; i++) lat[i] = (rec.ackedAt[i] ?? 0) - (rec.sentAt[i] ?? 0);
    lat.sort();
    const pct = (p: number): number => round2(lat[Math.min(rec.count - 1, Math.max(0, Math.ceil(p * rec.count) - 1))] ?? 0);
    return {
      devices: n,
      connected: report.connected,
      refused,
      connectFailures,
      published: c.published,
      acknowledged: c.acked,
      failed: c.failed,
      missingAtEnd,
      durationMs: Math.round(durationMs),
      targetRate: opts.ratePerSec ?? null,
      // Acks of the run's own messages over the publishing time (the drain's acks are of earlier sends).
      achievedRate: Math.round((c.acked / Math.max(1, durationMs)) * 1000 * 10) / 10,
      latencyMs: rec.count === 0 ? null : { p50: pct(0.5), p99: pct(0.99), max: round2(lat[rec.count - 1] ?? 0) },
      errors: fleet.errors(),
    };
  } finally {
    await fleet.close();
  }
}
