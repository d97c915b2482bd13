import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConnectReport, FleetCounters } from '../../../simulators/load/fleet.js';
import { failOnExit, failureLatch, shares, spawnHelper } from '../phase.js';
import type { EventDevice, EventsConnectReport, EventsMessage, EventsParentMessage, ScheduledEvent } from './events-worker.js';
import type { AlertsPhase } from './params.js';
import type { BenchDevice } from './provision.js';
import type { TelemetryMessage, TelemetryParentMessage, TelemetryResult } from './telemetry-worker.js';

// The parent's side of the publisher processes: the background-telemetry workers (telemetry-worker.ts,
// simulators/load fleets) and the one alarm publisher (events-worker.ts). Promises fail when a child dies.

const telemetryScript = fileURLToPath(new URL('./telemetry-worker.js', import.meta.url));
const eventsScript = fileURLToPath(new URL('./events-worker.js', import.meta.url));

export interface TelemetryHandle {
  child: ChildProcess;
  send(msg: TelemetryParentMessage): void;
  connected: Promise<ConnectReport>;
  stopped: Promise<TelemetryResult>;
  closed: Promise<void>;
  progress: FleetCounters;
}

export function startTelemetryWorkers(ctx: AlertsPhase, url: string, devices: readonly BenchDevice[]): TelemetryHandle[] {
  const { params } = ctx;
  const parts = shares(devices, params.workers);
  // Each device sends one message per interval: the fleet's total is the asked rate.
  const intervalMs = params.rate > 0 ? (devices.length * 1000) / params.rate : undefined;
  return parts.map(({ items }, i) => {
    const { child, stderr } = spawnHelper(ctx, telemetryScript, { fdLimit: items.length + 256 });
    const latch = failureLatch();
    let onConnected!: (r: ConnectReport) => void;
    let onStopped!: (r: TelemetryResult) => void;
    let onClosed!: () => void;
    let finished = false;
    const handle: TelemetryHandle = {
      child,
      send(msg) {
        if (child.connected) child.send(msg);
      },
      connected: latch.guard(new Promise<ConnectReport>((r) => (onConnected = r))),
      stopped: latch.guard(new Promise<TelemetryResult>((r) => (onStopped = r))),
      closed: latch.guard(new Promise<void>((r) => (onClosed = r))),
      progress: { published: 0, acked: 0, failed: 0, outstanding: 0, dropped: 0, payloadBytes: 0 },
    };
    child.on('message', (raw: unknown) => {
      const msg = raw as TelemetryMessage;
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
          latch.fail(new Error(`telemetry worker ${i} failed: ${msg.message}`));
          break;
      }
    });
    failOnExit(child, stderr, latch, `telemetry worker ${i} exited early`, () => finished);
    // Rate 0 (no background load) still connects the devices, but `go` is never sent.
    handle.send({
      type: 'init',
      url,
      devices: items.map((d) => ({ id: d.id, secret: d.secret })),
      intervalMs,
      window: params.window,
      connectConcurrency: Math.max(1, Math.floor(params.connectConcurrency / parts.length)),
      seed: 20261124 + i,
    });
    return handle;
  });
}

/** What became of one scheduled alarm, as the publisher saw it. */
export interface PublishRecord {
  device: number;
  publishedAt?: number;
  /** The payload's `ts` (Date.now() at publish). */
  ts?: number;
  /** How much later than scheduled it went out (the publisher's timer), ms. */
  lateMs?: number;
  ackedAt?: number;
  failed?: string;
}

export interface EventsHandle {
  child: ChildProcess;
  connected: Promise<{ report: EventsConnectReport; clockOffsetMs: number }>;
  schedule(events: ScheduledEvent[]): void;
  /** By device index, filled in as the worker reports. */
  records: Map<number, PublishRecord>;
  dropped: Record<string, number>;
  close(): Promise<void>;
}

export function startEventsWorker(ctx: AlertsPhase, url: string, devices: readonly EventDevice[]): EventsHandle {
  const { child, stderr } = spawnHelper(ctx, eventsScript, { fdLimit: devices.length + 256 });
  const latch = failureLatch();
  let onConnected!: (r: { report: EventsConnectReport; clockOffsetMs: number }) => void;
  let onClosed!: () => void;
  let finished = false;
  const records = new Map<number, PublishRecord>();
  const dropped: Record<string, number> = {};
  const record = (device: number): PublishRecord => {
    let r = records.get(device);
    if (r === undefined) {
      r = { device };
      records.set(device, r);
    }
    return r;
  };
  const send = (msg: EventsParentMessage): void => {
    if (child.connected) child.send(msg);
  };
  const closed = latch.guard(new Promise<void>((r) => (onClosed = r)));
  const connected = latch.guard(new Promise<{ report: EventsConnectReport; clockOffsetMs: number }>((r) => (onConnected = r)));
  child.on('message', (raw: unknown) => {
    const msg = raw as EventsMessage;
    switch (msg.type) {
      case 'connected':
        onConnected({ report: msg.report, clockOffsetMs: msg.clockOffsetMs });
        break;
      case 'published':
        Object.assign(record(msg.device), { publishedAt: msg.publishedAt, ts: msg.ts, lateMs: msg.lateMs });
        break;
      case 'acked':
        record(msg.device).ackedAt = msg.ackedAt;
        break;
      case 'failed':
        record(msg.device).failed = msg.reason;
        break;
      case 'dropped':
        dropped[msg.reason] = (dropped[msg.reason] ?? 0) + 1;
        break;
      case 'closed':
        finished = true;
        onClosed();
        break;
      case 'fatal':
        latch.fail(new Error(`alarm publisher failed: ${msg.message}`));
        break;
    }
  });
  failOnExit(child, stderr, latch, 'alarm publisher exited early', () => finished);
  send({ type: 'init', url, devices: [...devices], connectConcurrency: 50 });
  return {
    child,
    connected,
    schedule(events) {
      send({ type: 'schedule', events });
    },
    records,
    dropped,
    close() {
      send({ type: 'close' });
      return closed;
    },
  };
}
