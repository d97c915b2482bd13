import {
  createFleet,
  type AckRecords,
  type ConnectReport,
  type Fleet,
  type FleetCounters,
  type FleetDevice,
} from '../../simulators/load/fleet.js';

// A publisher worker of the ingest benchmark: a child process (IPC channel, advanced serialization) that
// runs one load/fleet.ts fleet for its share of the devices. The fleet is the load generator; this file is
// only the benchmark's remote control for it.
// Protocol: parent → `init` → worker connects every device → `connected`; parent → `go` → `progress` every
// 500 ms; parent → `stop` → the fleet stops sending and waits for outstanding acks → `stopped` (with every
// acked message); parent → `close` → `closed`, then it exits.

export interface IngestWorkerInit {
  type: 'init';
  url: string;
  devices: FleetDevice[];
  /** Index of this worker's first device in the bench's device list. */
  offset: number;
  window: number;
  connectConcurrency: number;
  seed: number;
}

export type IngestParentMessage = IngestWorkerInit | { type: 'go' } | { type: 'stop'; drainMs: number } | { type: 'close' };

export interface IngestWorkerResult {
  counters: FleetCounters;
  /** Acks still missing when the drain time ran out. */
  unacked: number;
  errors: Record<string, number>;
  records: AckRecords;
  /** This worker's CPU time from `go` to `stop`, ms. */
  cpuMs: number;
}

export type IngestWorkerMessage =
  | { type: 'connected'; report: ConnectReport }
  | { type: 'progress'; counters: FleetCounters }
  | { type: 'stopped'; result: IngestWorkerResult }
  | { type: 'closed' }
  | { type: 'fatal'; message: string };

function send(msg: IngestWorkerMessage): void {
  process.send?.(msg);
}

let fleet: Fleet | undefined;
let progress: NodeJS.Timeout | undefined;
let cpu0: NodeJS.CpuUsage | undefined;

function fatal(err: unknown): void {
  send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}

process.on('message', (raw: unknown) => {
  const msg = raw as IngestParentMessage;
  switch (msg.type) {
    case 'init': {
      const f = createFleet({
        url: msg.url,
        devices: msg.devices,
        window: msg.window,
        connectConcurrency: msg.connectConcurrency,
        seed: msg.seed + msg.offset,
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
          result: { counters: f.counters(), unacked, errors: f.errors(), records: f.records(), cpuMs: (cpu.user + cpu.system) / 1000 },
        });
      }, fatal);
      break;
    }
    case 'close': {
      clearInterval(progress);
      void (fleet?.close() ?? Promise.resolve()).then(() => {
        process.send?.({ type: 'closed' } satisfies IngestWorkerMessage, () => {
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
