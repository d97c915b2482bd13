import type { WorkerDevice } from '../connections-worker.js';
import type { Phase } from '../phase.js';
import { canRaiseFdLimit, fdLimits } from '../proc.js';
import { parseGatewayEnv, requireBuiltGateway, splitFlags } from '../servers.js';
import { UsageError, type BenchOptions } from '../types.js';

// What a connections run is asked (options, defaults, the target) and what each measured target produces.

export const DEFAULTS = { devices: 10_000, concurrency: 500, workers: 2, timeoutSec: 120, retries: 5 };
/** What the gateway must do for a municipality's devices reconnecting after a restart. */
export const TARGET = { allConnectedWithinSec: 30, rssUnderBytes: 600e6 };
export const ATTEMPT_TIMEOUT_MS = 30_000;
const TARGETS = ['tryggheim', 'mosquitto'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface Params {
  devices: number;
  concurrency: number;
  workers: number;
  timeoutSec: number;
  retries: number;
  targets: TargetName[];
  gatewayLimits: { connectRatePerSec: number | 'default'; maxUnauthenticated: number | 'default' };
  gatewayNodeOptions: string[];
  /** Extra environment for the gateway (diagnosis only, e.g. TRYGGHEIM_BROKER__PERSISTENCE=memory). */
  gatewayEnv: [string, string][];
  /** Soft open-file limit the server children are started with (raised through bash `ulimit -n` when needed). */
  serverFdLimit: number;
}

export function resolveParams(opts: BenchOptions): Params {
  const devices = opts.devices ?? DEFAULTS.devices;
  const workers = opts.workers ?? DEFAULTS.workers;
  const concurrency = opts.concurrency ?? DEFAULTS.concurrency;
  let targets: TargetName[] = [...TARGETS];
  if (opts.only !== undefined) {
    const only = TARGETS.find((t) => t === opts.only);
    if (only === undefined) throw new UsageError(`--only must be one of ${TARGETS.join(', ')} (got ${JSON.stringify(opts.only)})`);
    targets = [only];
  }
  if (opts.window !== undefined || opts.warmupSec !== undefined || opts.durationSec !== undefined || opts.profile === true) {
    throw new UsageError('--window, --warmup, --duration and --profile are options of the ingest benchmark');
  }
  requireBuiltGateway();

  // A server holds one descriptor per client plus its own files; a worker one per client it holds.
  const serverFds = devices + 512;
  const workerFds = Math.ceil(devices / workers) + 256;
  const { soft, hard } = fdLimits();
  const needed = Math.max(serverFds, workerFds);
  if (soft < needed && !canRaiseFdLimit(needed)) {
    throw new UsageError(
      `${devices} devices need ${needed} open files per process but \`ulimit -n\` is ${soft} (hard ${hard}) and cannot be raised here; ` +
        `raise it (ulimit -n ${needed}, LimitNOFILE=${needed}) or use --devices ${Math.max(1, soft - 512)}`,
    );
  }
  return {
    devices,
    concurrency,
    workers,
    timeoutSec: opts.timeoutSec ?? DEFAULTS.timeoutSec,
    retries: opts.retries ?? DEFAULTS.retries,
    targets,
    gatewayLimits: { connectRatePerSec: opts.connectRatePerSec ?? 'default', maxUnauthenticated: opts.maxUnauthenticated ?? 'default' },
    gatewayNodeOptions: splitFlags(opts.gatewayNodeOptions),
    gatewayEnv: parseGatewayEnv(opts.gatewayEnv),
    serverFdLimit: Math.max(soft, serverFds),
  };
}

/** One target's measurement: start the server, connect every device, read memory/CPU/metrics, close, stop. */
export interface TargetPhase extends Phase {
  readonly name: TargetName;
  readonly params: Params;
  readonly devices: WorkerDevice[];
}

/** Everything one target's measurement produced. Times in ms, sizes in bytes. */
export interface TargetResult {
  name: TargetName;
  completed: boolean;
  failure?: string;
  stage: string;
  version?: string;
  startToReadyMs?: number;
  devices: number;
  connected: number;
  attempts: number;
  refusals: Record<string, number>;
  gaveUp: Record<string, number>;
  /** Connections the server closed after their CONNACK, before the bench closed them (counted until close). */
  droppedAfterConnect: number;
  dropReasons?: Record<string, number>;
  timeToAllMs?: number;
  ratePerSec?: number;
  peakRatePerSec?: number;
  connackMs?: { p50: number; p90: number; p99: number; max: number };
  tcpConnectMs?: { p50: number; p99: number; max: number };
  attemptToConnackMs?: { p50: number; p99: number; max: number };
  serverCpuMs?: number;
  serverCpuMsPerConnection?: number;
  /** Server CPU during the connect phase by thread (`main` = the event loop / mosquitto's only thread), ms. */
  serverThreadCpuMs?: Record<string, number>;
  /** Share of the connect phase the server's main thread was on a CPU (1 = saturated). */
  serverMainThreadBusy?: number;
  /**
   * The whole machine during the connect phase, in cores (average): busy, of which this bench's processes
   * (server + client workers + this process) and everyone else, and hypervisor steal. The machine is shared.
   */
  machineCores?: { available: number; busy: number; bench: number; others: number; steal: number };
  /** Kernel TCP counters during the connect phase (whole network namespace): listen-queue overflows, SYN cookies, retransmits. */
  tcp?: Record<string, number>;
  /** Problems the bench noticed in the server's own figures (e.g. /metrics disagreeing with the clients). */
  warnings: string[];
  clientCpuMs?: number;
  rssIdle?: number;
  rssConnected?: number;
  rssPeakSampled?: number;
  rssHwm?: number;
  rssAfterClose?: number;
  clientsCloseMs?: number;
  shutdown?: { code: number | null; signal: string | null; killed: boolean; ms: number };
  metrics?: Record<string, number>;
  serverLog?: { events: Record<string, number>; tail?: string[] };
}

export function emptyResult(ctx: TargetPhase): TargetResult {
  return {
    name: ctx.name,
    completed: false,
    stage: ctx.stage,
    devices: ctx.params.devices,
    connected: 0,
    attempts: 0,
    refusals: {},
    gaveUp: {},
    droppedAfterConnect: 0,
    warnings: [],
  };
}
