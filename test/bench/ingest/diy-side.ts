import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DiyCounters, DiyInit, DiyMessage, DiyParentMessage } from '../diy-subscriber.js';
import { enter, failOnExit, failureLatch, spawnHelper, stopServer } from '../phase.js';
import { exited, sleep } from '../proc.js';
import { READY_TIMEOUT_MS, mosquittoVersion, startMosquittoProcess, writeMosquittoPasswords } from '../servers.js';
import { DATABASES, DIY, DIY_MOSQUITTO, type Device, type IngestPhase } from './params.js';
import type { Server } from './pipeline.js';

// Pipeline (b), what a user builds without Tryggheim: mosquitto (tuned, no persistence) and one mqtt.js
// subscriber process (diy-subscriber.ts) that writes line protocol to InfluxDB in batches.

const subscriberScript = fileURLToPath(new URL('../diy-subscriber.js', import.meta.url));
const SUBSCRIBER = { username: 'diy-subscriber', password: 'diy-subscriber-secret-0123456789' };

export interface SubscriberHandle {
  child: ChildProcess;
  snapshot(): Promise<DiyCounters>;
  drain(): Promise<DiyCounters>;
  close(): Promise<void>;
}

export async function startDiy(ctx: IngestPhase, bin: string, dir: string, devices: readonly Device[]): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const passwords = writeMosquittoPasswords(dir, [...devices, { id: SUBSCRIBER.username, secret: SUBSCRIBER.password }]);
  const version = mosquittoVersion(bin);
  const m = await startMosquittoProcess(ctx, {
    bin,
    dir,
    passwordFile: passwords.file,
    tuning: [`max_queued_messages ${DIY_MOSQUITTO.maxQueuedMessages}`, `max_inflight_messages ${DIY_MOSQUITTO.maxInflightMessages}`],
    fdLimit: devices.length + 512,
  });
  enter(ctx, 'starting the DIY subscriber');
  const subscriber = await startSubscriber(ctx, m.port);
  return {
    pid: m.pid,
    port: m.port,
    child: m.child,
    version: `mosquitto ${version} + 1 mqtt.js subscriber (batches of ${DIY.batchSize} / ${DIY.flushMs} ms, ${DIY.maxInFlight} in flight)`,
    startToReadyMs: performance.now() - m.started,
    subscriber,
    log: m.log,
    stop: async () => {
      await subscriber.close();
      return stopServer(m.child, 15_000);
    },
  };
}

async function startSubscriber(ctx: IngestPhase, port: number): Promise<SubscriberHandle> {
  const { child, stderr } = spawnHelper(ctx, subscriberScript);
  const latch = failureLatch();
  const waiting: Partial<Record<'ready' | 'snapshot' | 'drained', ((c: DiyCounters) => void)[]>> = {};
  const wait = (type: 'ready' | 'snapshot' | 'drained'): Promise<DiyCounters> =>
    latch.guard(new Promise<DiyCounters>((r) => (waiting[type] ??= []).push(r)));
  let closing = false;
  const empty: DiyCounters = { received: 0, written: 0, pending: 0, requests: 0, failedRequests: 0, parseErrors: 0, cpuMs: 0 };
  child.on('message', (raw: unknown) => {
    const msg = raw as DiyMessage;
    if (msg.type === 'fatal') {
      latch.fail(new Error(`DIY subscriber: ${msg.message}`));
      return;
    }
    if (msg.type === 'progress') return;
    const counters = msg.type === 'ready' ? empty : msg.counters;
    for (const r of waiting[msg.type]?.splice(0) ?? []) r(counters);
  });
  failOnExit(child, stderr, latch, 'DIY subscriber exited', () => closing);
  const send = (msg: DiyParentMessage): void => {
    if (child.connected) child.send(msg);
  };
  const ready = wait('ready');
  const init: DiyInit = {
    type: 'init',
    mqttUrl: `mqtt://127.0.0.1:${port}`,
    username: SUBSCRIBER.username,
    password: SUBSCRIBER.password,
    influxUrl: ctx.influxd.url,
    database: DATABASES.diy,
    ...DIY,
  };
  send(init);
  await Promise.race([ready, sleep(READY_TIMEOUT_MS).then(() => Promise.reject(new Error('DIY subscriber not ready in time')))]);
  return {
    child,
    snapshot() {
      const p = wait('snapshot');
      send({ type: 'snapshot' });
      return p;
    },
    drain() {
      const p = wait('drained');
      send({ type: 'drain' });
      return p;
    },
    async close() {
      closing = true;
      send({ type: 'close' });
      await Promise.race([exited(child), sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
