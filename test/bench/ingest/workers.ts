import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { IngestParentMessage, IngestWorkerMessage, IngestWorkerResult } from '../ingest-worker.js';
import type { ConnectReport, FleetCounters } from '../../../simulators/load/fleet.js';
import { failOnExit, failureLatch, shares, spawnHelper } from '../phase.js';
import type { LineTap } from '../proc.js';
import type { Device, IngestPhase } from './params.js';

// The publisher workers (ingest-worker.ts): each runs a load/fleet.ts fleet for its share of the devices.

const workerScript = fileURLToPath(new URL('../ingest-worker.js', import.meta.url));

export interface WorkerHandle {
  child: ChildProcess;
  /** Index of this worker's first device in the bench's device list. */
  offset: number;
  send(msg: IngestParentMessage): void;
  connected: Promise<ConnectReport>;
  stopped: Promise<IngestWorkerResult>;
  closed: Promise<void>;
  progress: FleetCounters;
}

export function startWorkers(ctx: IngestPhase, port: number, devices: readonly Device[]): WorkerHandle[] {
  const { params } = ctx;
  const parts = shares(devices, params.workers);
  return parts.map(({ offset, items: slice }, i) => {
    const { child, stderr } = spawnHelper(ctx, workerScript, { serialization: 'advanced', fdLimit: slice.length + 256 });
    const handle = makeWorkerHandle(child, stderr, i, offset);
    handle.send({
      type: 'init',
      url: `mqtt://127.0.0.1:${port}`,
      devices: slice.map((d) => ({ id: d.id, secret: d.secret })),
      offset,
      window: params.window,
      connectConcurrency: Math.max(1, Math.floor(params.connectConcurrency / parts.length)),
      seed: 20261123,
    });
    return handle;
  });
}

function makeWorkerHandle(child: ChildProcess, stderr: LineTap, index: number, offset: number): WorkerHandle {
  let onConnected!: (r: ConnectReport) => void;
  let onStopped!: (r: IngestWorkerResult) => void;
  let onClosed!: () => void;
  const latch = failureLatch();
  const handle: WorkerHandle = {
    child,
    offset,
    send(msg) {
      if (child.connected) child.send(msg);
    },
    connected: latch.guard(new Promise<ConnectReport>((r) => (onConnected = r))),
    stopped: latch.guard(new Promise<IngestWorkerResult>((r) => (onStopped = r))),
    closed: latch.guard(new Promise<void>((r) => (onClosed = r))),
    progress: { published: 0, acked: 0, failed: 0, outstanding: 0, dropped: 0, payloadBytes: 0 },
  };
  let finished = false;
  child.on('message', (raw: unknown) => {
    const msg = raw as IngestWorkerMessage;
    switch (msg.type) {
      case 'connected':
        onConnected(msg.report);
        break;
      case 'progress':
        handle.progress = msg.counters;
        break;
      case 'stopped':
        handle.progress = msg.result.counters;
        onStopped(msg.result);
        break;
      case 'closed':
        finished = true;
        onClosed();
        break;
      case 'fatal':
        latch.fail(new Error(`publisher worker ${index} failed: ${msg.message}`));
        break;
    }
  });
  failOnExit(child, stderr, latch, `publisher worker ${index} exited early`, () => finished);
  return handle;
}
