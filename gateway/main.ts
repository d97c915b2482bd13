import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { devicePolicy, startBroker, type BrokerHandle } from '../broker/index.js';
import type { Config } from './config/schema.js';
import { databasePath, openDatabase, type Database } from './db/sqlite.js';
import { createHealthIndex, type HealthIndex } from './devices/health.js';
import { createDeviceRegistry, type DeviceRegistry } from './devices/registry.js';
import { watchCredentials, type CredentialWatch } from './devices/credential-watch.js';
import { createDeadLetters } from './ingest/dead-letters.js';
import { openJournal, type Journal } from './ingest/journal.js';
import { startAppendThread } from './ingest/journal-append.js';
import { createIngest, type Ingest, type StorageSink } from './ingest/pipeline.js';
import { createCachedResolver } from './ingest/resolver.js';
import type { CanonicalEvent } from '../adapters/canonical.js';
import { ADAPTERS } from '../adapters/registry.js';
import { createDoseAlertLookup } from './care/dose-log.js';
import { createHomeQuery } from './storage/home-query.js';
import { startInfluxThread, type InfluxThread } from './storage/influx-thread.js';
import { toLine } from './storage/line-protocol.js';
import { createEventBus, type EventBus } from './events.js';
import { buildApp } from './http/app.js';
import { startHttpServer, type HttpServerHandle } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { escalationPolicy, startAlerting, type Alerting } from './alerting.js';
import { brokerPublisher, createMqttAlertChannel, MQTT_CHANNEL } from './delivery/mqtt.js';
import { channelName, createWebhookChannel } from './delivery/webhook.js';
import { systemClock, type GatewayClock } from './clock.js';
import { createMetrics } from './metrics.js';

// The composition root: the only place that knows every part. Start order is database → broker → HTTP, so
// /readyz never says ready before devices can connect; stop order is the reverse.

/** A shutdown step taking longer than this is logged by name (`gateway.close_slow`). */
const CLOSE_SLOW_MS = 5000;

export interface Gateway {
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly db: Database;
  readonly registry: DeviceRegistry;
  readonly broker: BrokerHandle;
  readonly events: EventBus;
  readonly journal: Journal;
  readonly ingest: Ingest;
  readonly alerting: Alerting;
  /** Online, last seen, battery and firmware per device since start-up (the dashboard's device health). */
  readonly health: HealthIndex;
  readonly clock: GatewayClock;
  readonly http: { address: AddressInfo };
  close(): Promise<void>;
}

export interface GatewayOptions {
  logger?: Logger;
  /** The gateway's time and deadline timers (tests and simulations share a virtual clock); default the system's. */
  clock?: GatewayClock;
  /** Where confirmed points go; without it, messages stay in the journal (bounded by its cap). */
  storage?: { sink: StorageSink; toLine: (e: CanonicalEvent) => string };
}

export async function startGateway(config: Readonly<Config>, opts: GatewayOptions = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger({ level: config.log.level });
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });

  const db = openDatabase(databasePath(dataDir));
  const clock = opts.clock ?? systemClock();
  const now = (): number => clock.now();
  // The registry dates assignments with the gateway's clock, so a simulation on a shared virtual clock
  // assigns its devices from the simulated start and home look-ups at receive time agree.
  const registry = createDeviceRegistry({ db, now: () => new Date(now()) });
  const events = createEventBus((event, err) => {
    logger.error({ event: 'gateway.listener_error', on: event, err }, 'event listener failed');
  });
  const health = createHealthIndex();
  const offHealth = health.attach(events);

  // Rules and alerts listen on the bus before anything can emit on it (the ingest replays its journal).
  const alerting = startAlerting({
    db,
    clock,
    registry,
    bus: events,
    logger,
    policy: escalationPolicy(config.alerts.escalation),
    influxDownAlertMs: config.alerts.influxDownMinutes * 60_000,
    // The channels started below, by outbox name: opened now, before the journal replay can raise an alert.
    channels: [...config.alerts.webhooks.map((w) => channelName(w.id)), ...(config.alerts.mqtt.enabled ? [MQTT_CHANNEL] : [])],
    outboxRetentionMs: config.alerts.outboxRetentionDays * 24 * 60 * 60_000,
  });

  // The journal's writes — appends (what each PUBACK waits for), deletes after InfluxDB confirmed, cursors —
  // go through the append thread, its single writer, so the broker's thread never waits for the disk.
  const writer = await startAppendThread(dataDir, logger);
  const journal = openJournal(dataDir, { now, writer });
  // Storage: what the caller hands in (tests), else InfluxDB when configured, written from the storage thread
  // (gateway/storage/influx-thread.ts). The writer detects the server's API lazily, so an InfluxDB that is
  // down at start-up delays nothing: the journal holds the data.
  let influx: InfluxThread | undefined;
  let storage = opts.storage;
  const influxUrl = config.influx.url;
  if (storage === undefined && influxUrl !== undefined) {
    influx = await startInfluxThread({ ...config.influx, url: influxUrl }, { logger });
    storage = { sink: influx, toLine };
  } else if (storage === undefined) {
    logger.warn(
      { event: 'gateway.storage', state: 'not_configured' },
      'influx.url is not set: messages are kept in the journal, nothing is stored',
    );
  }
  const resolver = createCachedResolver(dataDir);
  const ingest = createIngest({
    journal,
    resolver,
    bus: events,
    logger: logger.child({ component: 'ingest' }),
    now,
    ...(storage ? { storage } : {}),
    options: {
      ...config.ingest,
      batchSize: config.influx.batchSize,
      flushIntervalMs: config.influx.flushIntervalMs,
      maxInFlight: config.influx.maxInFlight,
    },
  });

  let broker: BrokerHandle | undefined;
  let http: HttpServerHandle | undefined;
  let credentialWatch: CredentialWatch | undefined;
  try {
    broker = await startBroker(config.broker, {
      policy: devicePolicy(registry.authenticate),
      logger: logger.child({ component: 'broker' }),
      dataDir,
      now,
      accept: (message) => ingest.accept(message),
      onDeviceStatus: ({ principal, status, retained }) => {
        logger.info({ event: 'device.status', deviceId: principal.id, kind: principal.kind, status, retained }, 'device status');
        events.emit('device-status', { principal, status, retained, at: new Date(now()) });
      },
    });
    const brokerRef = broker;
    // Disabling a device or replacing its secret (HTTP API or CLI) cuts its open connection within a second.
    credentialWatch = watchCredentials({ db, revalidate: () => brokerRef.revalidate(), logger: logger.child({ component: 'broker' }) });
    const metrics = createMetrics({ brokerStats: () => brokerRef.stats, ingestStats: () => ingest.stats });
    // The dashboard's reads from InfluxDB (home pages, charts), with a timeout a page can wait for.
    const influxReads =
      influxUrl === undefined
        ? undefined
        : createHomeQuery({ ...config.influx, url: influxUrl, timeoutMs: Math.min(config.influx.timeoutMs, 5000) });
    const openAlerts = (teams: '*' | readonly string[]) =>
      teams === '*'
        ? alerting.alerts.list({ state: 'open', limit: 5000 })
        : teams.flatMap((teamId) => alerting.alerts.list({ state: 'open', teamId, limit: 5000 }));
    const homeData = { registry, health, openAlerts };
    const app = buildApp({
      logger,
      metrics,
      readiness: () => ({ broker: brokerRef.isListening(), database: db.open }),
      trustProxy: config.http.trustProxy,
      // Sessions and lockouts are about people's time: the wall clock, even when the gateway's clock is a
      // simulation's (the demo runs its district at 120×; a 30-minute idle timeout must not end in 15 s).
      auth: { db, now: Date.now, config: config.http.auth, serviceAccount: (id, secret) => serviceAccountTeam(registry, id, secret) },
      alerts: {
        hub: alerting.hub,
        listOpen: (scope) => alerting.listOpen(scope),
        get: (id) => alerting.alerts.get(id),
        timeline: (id) => alerting.alerts.timeline(id),
        acknowledge: (id, input) => alerting.acknowledge(id, input),
        resolve: (id, input) => alerting.resolve(id, input),
      },
      reports: { followUpReport: (query) => alerting.alerts.followUpReport(query) },
      homes: { ...homeData, care: alerting.care, doseAlerts: createDoseAlertLookup(db), influx: influxReads, now },
      devices: homeData,
      deadLetters: {
        deadLetters: createDeadLetters(journal, now),
        registry,
        afterReplay: () => ingest.kick(),
        adapters: ADAPTERS,
      },
      telemetry: { registry, influx: influxReads },
      care: { registry, care: alerting.care, transaction: (fn) => db.transaction(fn).immediate() },
      teams: { listHomes: () => registry.listHomes() },
    });
    http = await startHttpServer(app, config.http);
    // Delivery channels start once the broker is up; they deliver what the outbox holds from before too (from
    // their cursor; a channel new to this database from where the outbox ended when the gateway started).
    alerting.addChannels(
      config.alerts.webhooks.map((w) =>
        createWebhookChannel(w, {
          outbox: alerting.alerts,
          notifier: alerting.notifier,
          clock,
          // A webhook failing for N minutes becomes a gateway-health alert on the other channels.
          onHealth: (signal) => alerting.apply(signal),
          logger: logger.child({ component: 'delivery.webhook', webhook: w.id }),
        }),
      ),
    );
    if (config.alerts.mqtt.enabled) {
      const opsTeamId = config.alerts.escalation.opsTeamId;
      alerting.addChannels([
        createMqttAlertChannel({
          outbox: alerting.alerts,
          notifier: alerting.notifier,
          publish: brokerPublisher(brokerRef),
          openAlerts: (teamId) => alerting.alerts.list({ teamId, state: 'open', limit: 5000 }),
          route: config.alerts.mqtt.route,
          teams: () => [...new Set([...registry.listHomes().map((h) => h.teamId), opsTeamId])],
          logger: logger.child({ component: 'delivery.mqtt' }),
          now,
        }),
      ]);
    }
  } catch (err) {
    offHealth();
    await credentialWatch?.close();
    await alerting.close();
    await broker?.close();
    await ingest.stop();
    await influx?.close();
    await writer.close();
    resolver.close();
    journal.close();
    db.close();
    throw err;
  }

  for (const name of ['tcp', 'tls', 'ws'] as const) {
    const address = broker.address(name);
    if (address)
      logger.info({ event: 'gateway.listening', listener: `mqtt-${name}`, host: address.address, port: address.port }, 'MQTT listening');
  }
  logger.info({ event: 'gateway.listening', listener: 'http', host: http.address.address, port: http.address.port }, 'HTTP listening');

  const brokerHandle = broker;
  const httpHandle = http;
  const watchHandle = credentialWatch;
  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    db,
    registry,
    broker: brokerHandle,
    events,
    journal,
    ingest,
    alerting,
    health,
    clock,
    http: { address: httpHandle.address },
    close() {
      // Each step says so when it takes long: a shutdown that hangs must name what it waits for.
      const step = async (name: string, fn: () => unknown): Promise<void> => {
        const slow = setTimeout(
          () => logger.warn({ event: 'gateway.close_slow', step: name }, 'shutdown step still running'),
          CLOSE_SLOW_MS,
        );
        slow.unref();
        try {
          await fn();
        } finally {
          clearTimeout(slow);
        }
      };
      closing ??= (async () => {
        await step('http', () => httpHandle.close());
        await step('credential-watch', () => watchHandle.close());
        offHealth();
        await step('alerting', () => alerting.close());
        // PUBACKs held back by backpressure must go out, or closing the broker waits for them forever.
        await step('broker', () => brokerHandle.close());
        await step('ingest', () => ingest.stop());
        await step('influx', () => influx?.close());
        await step('journal-writer', () => writer.close());
        resolver.close();
        journal.close();
        db.close();
        logger.info({ event: 'gateway.stopped' }, 'gateway stopped');
      })();
      return closing;
    },
  };
}

/**
 * An integration's HTTP Basic credentials (a service account: its id and secret) → its team, for the read-only
 * alert routes. Failures are not told apart, as on the MQTT side. Dashboard users log in with sessions instead
 * (gateway/auth).
 */
function serviceAccountTeam(registry: DeviceRegistry, id: string, secret: Buffer): { teamId: string } | undefined {
  const result = registry.authenticate(id, secret);
  if (!result.ok) return undefined;
  const principal = result.principal as { kind: string; teamId?: unknown };
  return principal.kind === 'service' && typeof principal.teamId === 'string' ? { teamId: principal.teamId } : undefined;
}
