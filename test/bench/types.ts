// What the dispatcher (run.ts) and every benchmark agree on. A benchmark never prints its result itself:
// it returns human lines and a JSON value, and run.ts prints one or the other (--json).

export interface BenchOptions {
  /** --devices: how many devices the benchmark simulates (each benchmark has its own default). */
  devices: number | undefined;
  json: boolean;
  /** --concurrency: connection attempts in flight over all client workers. */
  concurrency: number | undefined;
  /** --workers: client worker processes. */
  workers: number | undefined;
  /** --timeout: hard limit per measured target, seconds; everything is killed when it passes. */
  timeoutSec: number | undefined;
  /** --only: restrict to one target (e.g. `tryggheim` or `mosquitto`). */
  only: string | undefined;
  /** --retries: attempts per device after a refused one (devices in the field retry too). */
  retries: number | undefined;
  /** --connect-rate / --max-unauthenticated: override the gateway's admission limits (default: production defaults). */
  connectRatePerSec: number | undefined;
  maxUnauthenticated: number | undefined;
  /** --gateway-node-options: extra node flags for the gateway child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  gatewayNodeOptions: string | undefined;
  /** --gateway-env KEY=VALUE...: extra environment for the gateway (diagnosis, e.g. TRYGGHEIM_BROKER__PERSISTENCE=memory). */
  gatewayEnv: string[] | undefined;
  /** --window: unacknowledged QoS 1 publishes per device (ingest). */
  window?: number | undefined;
  /** --warmup / --duration: seconds of publishing before and during the measurement (ingest). */
  warmupSec?: number | undefined;
  durationSec?: number | undefined;
  /** --profile: CPU-profile the gateway (`--cpu-prof`) and summarise where its time went (ingest). */
  profile?: boolean | undefined;
}

export interface BenchResult {
  /** The benchmark ran to the end and every target it reports against was met. */
  ok: boolean;
  /** Human summary, printed line by line. */
  lines: string[];
  /** Machine-readable result, printed as JSON with --json. */
  json: unknown;
}

/** `progress` writes a line to stderr (stdout stays clean for --json). */
export type Benchmark = (opts: BenchOptions, progress: (line: string) => void) => Promise<BenchResult>;

/** Thrown by a benchmark for options it cannot honour; run.ts exits 64. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
