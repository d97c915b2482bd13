import { createFleet, type ConnectReport, type Fleet, type FleetCounters, type FleetDevice } from '../../../simulators/load/fleet.js';
import { percentile } from '../proc.js';

// A background-telemetry worker of the alerts benchmark: a child process (IPC channel) running one
// simulators/load fleet for its share of the devices, paced at `intervalMs` per device (open loop up to the
// send window), so the gateway carries a fixed rate while the alarms are measured.
// Protocol: parent → `init` → `connected`; `go` → `progress` every 500 ms; `stop` → `stopped`; `close` → `closed`, exit.

export interface TelemetryInit {
  type: 'init';
  url: string;
  devices: FleetDevice[];
  /** Per device; absent = as fast as the acks allow. */
  intervalMs: number | undefined;
  window: number;
  connectConcurrency: number;
  seed: number;
}

export type TelemetryParentMessage = TelemetryInit | { type: 'go' } | { type: 'stop'; drainMs: number } | { type: 'close' };

export interface TelemetryResult {
  counters: FleetCounters;
  unacked: number;
  errors: Record<string, number>;
  /** PUBLISH → PUBACK of every acked message, ms. */
  ackMs: { p50: number; p99: number; max: number } | undefined;
  cpuMs: number;
}

export type TelemetryMessage =
  | { type: 'connected'; report: ConnectReport }
  | { type: 'progress'; counters: FleetCounters }
  | { type: 'stopped'; result: TelemetryResult }
  | { type: 'closed' }
  | { type: 'fatal'; message: string };

function send(msg: TelemetryMessage): void {
  process.send?.(msg);
}

let fleet: Fleet | undefined;
let progress: NodeJS.Timeout | undefined;
let cpu0: NodeJS.CpuUsage | undefined;

function fatal(err: unknown): void {
  send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}

function ackLatency(f: Fleet): TelemetryResult['ackMs'] {
  const r = f.records();
  if (r.count === 0) return undefined;
  const lat = new Float64Array(r.count);
  for (let i = 0; i < r.count; i++) lat[i] = (r.ackedAt[i] ?? 0) - (r.sentAt[i] ?? 0);
  lat.sort();
  const sorted = Array.from(lat);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

process.on('message', (raw: unknown) => {
  const msg = raw as TelemetryParentMessage;
  switch (msg.type) {
    case 'init': {
      const f = createFleet({
        url: msg.url,
        devices: msg.devices,
        window: msg.window,
        connectConcurrency: msg.connectConcurrency,
        seed: msg.seed,
        ...(msg.intervalMs !== undefined ? { intervalMs: msg.intervalMs } : {}),
      });
      fleet = f;
      f.connect().then((report) => {
        send({ type: 'connected', report });
      }, fatal);
      break;
    }
    case 'go': {
      const f = fleet;
      if (f === undefined) {
        fatal(new Error('go before init'));
        return;
      }
      cpu0 = process.cpuUsage();
      f.start();
      progress = setInterval(() => {
        send({ type: 'progress', counters: f.counters() });
      }, 500);
      break;
    }
    case 'stop': {
      const f = fleet;
      if (f === undefined) {
        fatal(new Error('stop before init'));
        return;
      }
      void f.stop(msg.drainMs).then((unacked) => {
        clearInterval(progress);
        const cpu = process.cpuUsage(cpu0);
        send({
          type: 'stopped',
          result: { counters: f.counters(), unacked, errors: f.errors(), ackMs: ackLatency(f), cpuMs: (cpu.user + cpu.system) / 1000 },
        });
      }, fatal);
      break;
    }
    case 'close': {
      clearInterval(progress);
      void (fleet?.close() ?? Promise.resolve()).then(() => {
        process.send?.({ type: 'closed' } satisfies TelemetryMessage, () => {
          process.exit(0);
        });
      });
      break;
    }
  }
});

// The parent went away (killed on timeout): nothing left to report to.
process.on('disconnect', () => {
  process.exit(0);
});
