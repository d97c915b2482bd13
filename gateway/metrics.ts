import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BrokerStats } from '../broker/types.js';
import type { IngestStats } from './ingest/pipeline.js';

// The broker keeps plain numbers; these metrics copy them at scrape time (prom-client's `collect()`), so
// nothing has to remember to update a metric and a scrape always shows the broker's own count. Counters
// stay prom-client Counters (exposed as `# TYPE … counter`, so rate() works); `collect()` resets them
// and adds the absolute value. collect() is synchronous here, and prom-client reads the values right
// after it returns, so two concurrent scrapes cannot interleave a reset with a read.
//
// While the broker is not running (brokerStats() returns undefined) its series are absent rather than
// 0: "unknown" must not look like "nothing happened". Readiness reports the broker itself.

export interface Metrics {
  /** Private to this gateway: never prom-client's global registry, so tests and several gateways in one process never collide. */
  readonly registry: Registry;
}

export interface MetricsDeps {
  /** The running broker's counters, or undefined before it starts / after it stops. */
  brokerStats: () => BrokerStats | undefined;
  /** The ingest pipeline's counters (journal, dead letters, storage). */
  ingestStats?: () => IngestStats | undefined;
}

interface ScalarSpec<S = BrokerStats> {
  readonly name: string;
  readonly help: string;
  readonly read: (stats: S) => number;
}

interface LabelledSpec<S = BrokerStats> {
  readonly name: string;
  readonly help: string;
  readonly label: string;
  /** Every key of the map is a label value (a closed enum), so each series is present even at 0. */
  readonly read: (stats: S) => Readonly<Record<string, number>>;
}

const INGEST_COUNTERS = [
  { name: 'tryggheim_ingest_messages_total', help: 'Messages journaled (and then acknowledged).', read: (s) => s.accepted },
  { name: 'tryggheim_ingest_events_total', help: 'Canonical events decoded and handed to the rules.', read: (s) => s.events },
  { name: 'tryggheim_ingest_points_written_total', help: 'Points InfluxDB confirmed.', read: (s) => s.pointsWritten },
  {
    name: 'tryggheim_ingest_write_failures_total',
    help: 'InfluxDB write requests that failed (retried or isolated).',
    read: (s) => s.writeFailures,
  },
  {
    name: 'tryggheim_ingest_telemetry_dropped_total',
    help: 'Telemetry entries dropped because the journal was over its cap.',
    read: (s) => s.droppedTelemetry,
  },
] as const satisfies readonly ScalarSpec<IngestStats>[];

const INGEST_LABELLED = [
  {
    name: 'tryggheim_ingest_dead_letters_total',
    help: 'Messages moved to the dead letters, by reason.',
    label: 'reason',
    read: (s) => s.deadLetters,
  },
] as const satisfies readonly LabelledSpec<IngestStats>[];

const INGEST_GAUGES = [
  { name: 'tryggheim_journal_entries', help: 'Messages in the journal (not yet confirmed by InfluxDB).', read: (s) => s.journalEntries() },
  { name: 'tryggheim_journal_bytes', help: 'Payload bytes in the journal.', read: (s) => s.journalBytes() },
] as const satisfies readonly ScalarSpec<IngestStats>[];

const SCALAR_COUNTERS = [
  {
    name: 'tryggheim_mqtt_connections_accepted_total',
    help: 'MQTT sockets accepted by the broker.',
    read: (s) => s.connectionsAccepted,
  },
  {
    name: 'tryggheim_mqtt_publishes_total',
    help: 'PUBLISH packets accepted by the broker.',
    read: (s) => s.publishesAccepted,
  },
  {
    name: 'tryggheim_mqtt_publishes_denied_total',
    help: 'PUBLISH packets refused by the topic ACL.',
    read: (s) => s.publishesDenied,
  },
  {
    name: 'tryggheim_mqtt_publishes_failed_total',
    help: 'PUBLISH packets authorised but not made durable (journal failure): not acknowledged, connection closed.',
    read: (s) => s.publishesFailed,
  },
  {
    name: 'tryggheim_mqtt_subscriptions_denied_total',
    help: 'Subscription filters refused by the topic ACL.',
    read: (s) => s.subscriptionsDenied,
  },
  {
    name: 'tryggheim_mqtt_forwards_denied_total',
    help: 'Messages not forwarded to a subscriber because the ACL forbids that client to see them.',
    read: (s) => s.forwardsDenied,
  },
] as const satisfies readonly ScalarSpec[];

const LABELLED_COUNTERS = [
  {
    name: 'tryggheim_mqtt_connections_refused_total',
    help: 'MQTT sockets refused before CONNECT, by reason.',
    label: 'reason',
    read: (s) => s.connectionsRefused,
  },
  {
    name: 'tryggheim_mqtt_auth_failures_total',
    help: 'MQTT CONNECTs refused or dropped during authentication, by reason.',
    label: 'reason',
    read: (s) => s.authFailures,
  },
  {
    name: 'tryggheim_mqtt_packets_refused_total',
    help: 'MQTT packets refused by the broker guard, by reason.',
    label: 'reason',
    read: (s) => s.packetsRefused,
  },
  {
    name: 'tryggheim_mqtt_messages_dropped_total',
    help: 'Messages the broker dropped instead of delivering, by reason.',
    label: 'reason',
    read: (s) => s.messagesDropped,
  },
  {
    name: 'tryggheim_mqtt_clients_cut_total',
    help: 'Open MQTT connections closed because their credentials stopped being valid (disabled, new secret), by reason.',
    label: 'reason',
    read: (s) => s.clientsCut,
  },
] as const satisfies readonly LabelledSpec[];

const GAUGES = [
  {
    name: 'tryggheim_mqtt_connections',
    help: 'MQTT sockets currently open, authenticated or not.',
    read: (s) => s.openConnections(),
  },
  {
    name: 'tryggheim_mqtt_unauthenticated_connections',
    help: 'MQTT sockets currently open that have not yet authenticated.',
    read: (s) => s.unauthenticatedConnections(),
  },
  {
    name: 'tryggheim_mqtt_clients',
    help: 'Authenticated MQTT clients currently connected.',
    read: (s) => s.connectedClients(),
  },
] as const satisfies readonly ScalarSpec[];

export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tryggheim_' });
  registerStats(registry, deps.brokerStats, SCALAR_COUNTERS, LABELLED_COUNTERS, GAUGES);
  registerStats(registry, deps.ingestStats ?? (() => undefined), INGEST_COUNTERS, INGEST_LABELLED, INGEST_GAUGES);
  return { registry };
}

function registerStats<S>(
  registry: Registry,
  source: () => S | undefined,
  scalars: readonly ScalarSpec<S>[],
  labelled: readonly LabelledSpec<S>[],
  gauges: readonly ScalarSpec<S>[],
): void {
  for (const spec of scalars) {
    new Counter({
      name: spec.name,
      help: spec.help,
      registers: [registry],
      collect() {
        this.reset();
        const stats = source();
        if (stats === undefined) {
          // reset() leaves an unlabelled series at 0; remove it so it is absent.
          this.remove();
          return;
        }
        this.inc(spec.read(stats));
      },
    });
  }

  for (const spec of labelled) {
    new Counter({
      name: spec.name,
      help: spec.help,
      labelNames: [spec.label],
      registers: [registry],
      collect() {
        this.reset();
        const stats = source();
        if (stats === undefined) return;
        for (const [value, count] of Object.entries(spec.read(stats))) {
          this.inc({ [spec.label]: value }, count);
        }
      },
    });
  }

  for (const spec of gauges) {
    new Gauge({
      name: spec.name,
      help: spec.help,
      registers: [registry],
      collect() {
        const stats = source();
        if (stats === undefined) {
          this.reset();
          this.remove();
          return;
        }
        this.set(spec.read(stats));
      },
    });
  }
}
