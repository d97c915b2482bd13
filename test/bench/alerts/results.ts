import { percentile } from '../proc.js';

// What an alerts run produces. Times are epoch ms (performance.timeOrigin + performance.now(), comparable
// between the bench's processes) or durations in ms; CPU in cores averaged over the measured window.

export interface Quantiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function quantilesOf(values: readonly number[]): Quantiles | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
}

/** One scheduled alarm (a fall, or a door left open) from schedule to the dashboard. */
export interface Alarm {
  kind: 'fall' | 'door';
  deviceId: string;
  homeId: string;
  scheduledAt: number;
  publishedAt?: number;
  /** The payload's `ts`: Date.now() of the publisher when it published. */
  ts?: number;
  ackedAt?: number;
  publishFailed?: string;
  /** How much later than scheduled the publisher's timer sent it (its own event loop), ms. */
  publisherLateMs?: number;
  /** The `raised` transition's `at`: the gateway's clock when the rule ran (ms resolution). */
  transitionAt?: number;
  receivedAt?: number;
  alertId?: string;
}

export interface Sample {
  /** Seconds since `go`. */
  t: number;
  journaled: number;
  stored: number;
  journalEntries: number;
  gatewayCpuMs: number;
  gatewayRss: number;
  falls: number;
  doors: number;
}

export interface Mark {
  at: number;
  /** CLOCK_MONOTONIC µs (a gateway CPU profile's clock: `node dist/test/bench/cpuprofile.js FILE fromUs toUs`). */
  monoUs: number;
  gatewayCpuMs: number;
  gatewayThreads: Record<string, number>;
  influxdCpuMs: number;
  telemetryCpuMs: number;
  eventsCpuMs: number;
  benchCpuMs: number;
  machine: { busy: number; idle: number; steal: number } | undefined;
  journaled: number;
  stored: number;
  telemetryAcked: number;
}

export interface AlertsResult {
  completed: boolean;
  stage: string;
  failure?: string;
  gateway?: string;
  startToReadyMs?: number;
  connect?: { connected: number; failed: number; failures: Record<string, number>; ms: number };
  schedule?: { base: number; windowMs: number; doorOpenSpanMs: number };
  /** The measured window: background rates and CPU. */
  window?: {
    ms: number;
    /** CLOCK_MONOTONIC µs at both ends, for cutting a gateway CPU profile to the window. */
    monoUs: { from: number; to: number };
    /** Messages the gateway journaled (= acked) per second, all devices. */
    journaledPerSec: number;
    /** Points InfluxDB confirmed per second. */
    storedPerSec: number;
    /** Acks the telemetry publishers received per second (reported every 500 ms, so ±0.5 s at the edges). */
    telemetryAckedPerSec: number;
    cores: {
      gateway: number;
      gatewayThreads: Record<string, number>;
      influxd: number;
      telemetryWorkers: number;
      alarmPublisher: number;
      bench: number;
      machineBusy?: number;
      others?: number;
      steal?: number;
    };
  };
  journalMax?: number;
  /** The gateway's event-loop delay over the window (prom-client's histogram, reset at every 1 s scrape). */
  eventLoop?: { meanP99Ms: number; maxMs: number; samples: number };
  rss?: { gatewayAtWindowEnd?: number; gatewayPeak?: number };
  telemetry?: {
    published: number;
    acked: number;
    failed: number;
    unackedAtStop: number;
    dropped: number;
    errors: Record<string, number>;
    ackMs: { p50: number; p99: number; max: number } | undefined;
  };
  alarms: Alarm[];
  falls?: AlarmSummary;
  doors?: AlarmSummary & { doorMinutes: number };
  stream?: {
    connects: number;
    events: number;
    bytes: number;
    endings: Record<string, number>;
    /** Every alert message on the stream by `rule:transition`. */
    transitions: Record<string, number>;
    /** A second `raised` for an alarm already received. */
    duplicates: number;
    resets: number;
  };
  /** GET /api/v1/alerts?team=… after the run: open alerts by rule. */
  openAfter?: Record<string, number>;
  clock?: { benchMinusDateMs: number; publisherMinusDateMs: number };
  samples: Sample[];
  serverLog?: { events: Record<string, number>; tail?: string[] };
  shutdown?: { code: number | null; signal: string | null; killed: boolean; ms: number };
  warnings: string[];
}

export interface AlarmSummary {
  planned: number;
  published: number;
  acked: number;
  received: number;
  /** Device ids (falls) or home ids (doors) of alarms published and never received. */
  missing: string[];
  /** Falls: publish → SSE received. Doors: SSE received − (open published + the home's minutes). */
  latencyMs?: Quantiles;
  /** Publish → PUBACK (journaled with fsync). */
  ackMs?: Quantiles;
  /** Falls: publish → the rule ran (gateway clock, ms). Doors: the timer's due time (ts + minutes) → the rule ran. */
  toRuleMs?: Quantiles;
  /** The rule ran → SSE received. */
  ruleToStreamMs?: Quantiles;
  /** How late the publisher's own timer sent the alarm (its event loop): not part of any latency above. */
  publisherLateMs?: Quantiles;
}
