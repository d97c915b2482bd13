import type { InfluxdProcess } from '../../../gateway/storage/influxd-process.js';
import type { Phase } from '../phase.js';
import { parseGatewayEnv, requireBuiltGateway, splitFlags } from '../servers.js';
import { UsageError, type BenchOptions } from '../types.js';

// What an alerts run is asked: options, defaults, the goals, and the shape of the provisioned district.

export const DEFAULTS = {
  /** Background devices (multi-sensors publishing measurements). */
  devices: 1000,
  /** Background telemetry, messages per second over all devices. */
  rate: 5000,
  falls: 200,
  doors: 100,
  /** Telemetry worker processes. */
  workers: 2,
  /** Unacknowledged QoS 1 publishes per background device (open loop up to it). */
  window: 8,
  warmupSec: 10,
  durationSec: 90,
  /** After the measured window: how long the missing alerts are waited for (the load keeps running). */
  graceSec: 15,
  timeoutSec: 300,
  connectConcurrency: 200,
};

/** The goals. */
export const GOALS = {
  /** Fall alarm published → its `raised` alert received on the SSE stream, p99. */
  fallP99Ms: 50,
  /** door-left-open `raised` received − (open published + the home's minutes), every door. */
  lateness: 1000,
  /** The background load counts as reached at this share of the asked rate (else the run is not valid). */
  rateShare: 0.95,
};

/** The per-home override that makes the door-left-open timer short (the rule's minimum). */
export const DOOR_MINUTES = 1;
/** Door openings happen this long before the end of the window at the latest, so every deadline falls inside it. */
export const DOOR_DEADLINE_MARGIN_MS = 5000;
export const TEAM_ID = 'team-bench';
export const SERVICE_ACCOUNT_ID = 'svc-bench-dashboard';
export const DATABASE = 'bench_alerts';
/** Background devices per home (each home also gets one fall sensor while there are falls left to place). */
export const DEVICES_PER_HOME = 4;
export const PUBLISH_STOP_DRAIN_MS = 10_000;

/** Options the dispatcher has no flag for yet (run.ts has no --rate): environment variables, validated here. */
const ENV = { rate: 'BENCH_ALERTS_RATE', falls: 'BENCH_ALERTS_FALLS', doors: 'BENCH_ALERTS_DOORS' } as const;

export interface Params {
  devices: number;
  rate: number;
  falls: number;
  doors: number;
  workers: number;
  window: number;
  warmupSec: number;
  durationSec: number;
  graceSec: number;
  timeoutSec: number;
  connectConcurrency: number;
  gatewayNodeOptions: string[];
  gatewayEnv: [string, string][];
  /** Which of rate/falls/doors came from the environment. */
  fromEnv: string[];
}

export interface AlertsPhase extends Phase {
  readonly params: Params;
  readonly influxd: InfluxdProcess;
}

function envInt(name: string, fallback: number, min: number): { value: number; set: boolean } {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return { value: fallback, set: false };
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer ≥ ${min} (got ${JSON.stringify(raw)})`);
  return { value: n, set: true };
}

export function resolveParams(opts: BenchOptions): Params {
  const foreign: string[] = [];
  if (opts.only !== undefined) foreign.push('--only');
  if (opts.retries !== undefined) foreign.push('--retries');
  if (opts.connectRatePerSec !== undefined) foreign.push('--connect-rate');
  if (opts.maxUnauthenticated !== undefined) foreign.push('--max-unauthenticated');
  if (opts.profile === true) foreign.push('--profile');
  if (foreign.length > 0) throw new UsageError(`${foreign.join(', ')}: not an option of the alerts benchmark`);
  requireBuiltGateway();
  const rate = envInt(ENV.rate, DEFAULTS.rate, 0);
  const falls = envInt(ENV.falls, DEFAULTS.falls, 0);
  const doors = envInt(ENV.doors, DEFAULTS.doors, 0);
  const durationSec = opts.durationSec ?? DEFAULTS.durationSec;
  const devices = opts.devices ?? DEFAULTS.devices;
  if (doors.value > 0 && durationSec * 1000 < DOOR_MINUTES * 60_000 + DOOR_DEADLINE_MARGIN_MS + 5000) {
    throw new UsageError(
      `--duration ${durationSec}: the door-left-open deadlines (${DOOR_MINUTES} min after each opening) must fall inside the window; use at least ${DOOR_MINUTES * 60 + 10} s, or ${ENV.doors}=0`,
    );
  }
  if (falls.value > Math.max(1, Math.ceil(devices / DEVICES_PER_HOME)) * 4) {
    throw new UsageError(`${ENV.falls}=${falls.value}: at most 4 fall sensors per home (${Math.ceil(devices / DEVICES_PER_HOME)} homes)`);
  }
  return {
    devices,
    rate: rate.value,
    falls: falls.value,
    doors: doors.value,
    workers: opts.workers ?? DEFAULTS.workers,
    window: opts.window ?? DEFAULTS.window,
    warmupSec: opts.warmupSec ?? DEFAULTS.warmupSec,
    durationSec,
    graceSec: DEFAULTS.graceSec,
    timeoutSec: opts.timeoutSec ?? DEFAULTS.timeoutSec,
    connectConcurrency: opts.concurrency ?? DEFAULTS.connectConcurrency,
    gatewayNodeOptions: splitFlags(opts.gatewayNodeOptions),
    gatewayEnv: parseGatewayEnv(opts.gatewayEnv),
    fromEnv: Object.entries({ rate, falls, doors })
      .filter(([, v]) => v.set)
      .map(([k, v]) => `${ENV[k as keyof typeof ENV]}=${v.value}`),
  };
}
