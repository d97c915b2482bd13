import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParentMessage, WorkerMessage, WorkerResult } from '../connections-worker.js';
import { failOnExit, failureLatch, shares, spawnHelper } from '../phase.js';
import type { LineTap } from '../proc.js';
import { ATTEMPT_TIMEOUT_MS, type TargetPhase } from './params.js';

// The client workers (connections-worker.ts): each connects its share of the devices, holds them, closes them.

const workerScript = fileURLToPath(new URL('../connections-worker.js', import.meta.url));

export interface Closed {
  droppedAfterConnect: number;
  dropReasons: Record<string, number>;
}

export interface WorkerHandle {
  child: ChildProcess;
  send(msg: ParentMessage): void;
  ready: Promise<void>;
  done: Promise<WorkerResult>;
  closed: Promise<Closed>;
  progress: { connected: number; failedAttempts: number; gaveUp: number };
}

export function startWorkers(ctx: TargetPhase, port: number): WorkerHandle[] {
  const { params } = ctx;
  const parts = shares(ctx.devices, params.workers);
  const n = parts.length;
  return parts.map(({ items: slice }, i) => {
    const concurrency = Math.max(1, Math.floor(params.concurrency / n) + (i < params.concurrency % n ? 1 : 0));
    const { child, stderr } = spawnHelper(ctx, workerScript, { fdLimit: slice.length + 256 });
    const handle = makeWorkerHandle(child, stderr, i);
    handle.send({
      type: 'init',
      host: '127.0.0.1',
      port,
      devices: slice,
      concurrency,
      retries: params.retries,
      attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
    });
    return handle;
  });
}

function makeWorkerHandle(child: ChildProcess, stderr: LineTap, index: number): WorkerHandle {
  let onReady!: () => void;
  let onDone!: (r: WorkerResult) => void;
  let onClosed!: (r: Closed) => void;
  const latch = failureLatch();
  const handle: WorkerHandle = {
    child,
    send(msg) {
      if (child.connected) child.send(msg);
    },
    ready: latch.guard(new Promise<void>((r) => (onReady = r))),
    done: latch.guard(new Promise<WorkerResult>((r) => (onDone = r))),
    closed: latch.guard(new Promise<Closed>((r) => (onClosed = r))),
    progress: { connected: 0, failedAttempts: 0, gaveUp: 0 },
  };
  let finished = false;
  child.on('message', (raw: unknown) => {
    const msg = raw as WorkerMessage;
    switch (msg.type) {
      case 'ready':
        onReady();
        break;
      case 'progress':
        handle.progress = { connected: msg.connected, failedAttempts: msg.failedAttempts, gaveUp: msg.gaveUp };
        break;
      case 'done':
        onDone(msg.result);
        break;
      case 'closed':
        finished = true;
        onClosed({ droppedAfterConnect: msg.droppedAfterConnect, dropReasons: msg.dropReasons });
        break;
      case 'fatal':
        latch.fail(new Error(`client worker ${index} failed: ${msg.message}`));
        break;
    }
  });
  failOnExit(child, stderr, latch, `client worker ${index} exited early`, () => finished);
  return handle;
}
