import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { BrokerStats } from '../../broker/types.js';
import { createMetrics } from '../../gateway/metrics.js';

// A stub of the broker's stats object: the broker is a collaborator here, and these tests are about
// how its numbers are exposed, not about when the broker counts them.
function stubStats() {
  const gauges = { open: 5, unauthenticated: 2, clients: 3 };
  const stats = {
    connectionsAccepted: 11,
    connectionsRefused: { rate: 4, unauthenticated_cap: 1, shutting_down: 0 },
    authFailures: {
      unknown_device: 2,
      bad_secret: 3,
      disabled: 0,
      missing_credentials: 1,
      identifier_rejected: 0,
      locked_out: 6,
      keepalive: 0,
    },
    packetsRefused: { too_large: 7, malformed: 0, too_many_filters: 1 },
    publishesAccepted: 120,
    publishesDenied: 2,
    publishesFailed: 0,
    subscriptionsDenied: 1,
    forwardsDenied: 9,
    messagesDropped: { client_queue_full: 8 },
    clientsCut: { disabled: 2, secret_changed: 1, removed: 0, principal_changed: 0, refused: 0 },
    openConnections: () => gauges.open,
    unauthenticatedConnections: () => gauges.unauthenticated,
    connectedClients: () => gauges.clients,
  } satisfies BrokerStats;
  return { stats, gauges };
}

async function scrape(metrics: ReturnType<typeof createMetrics>): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n');
}

describe('gateway metrics from a stub stats object', () => {
  it('exposes every broker counter as a Prometheus counter with its absolute value', async () => {
    const { stats } = stubStats();
    const lines = await scrape(createMetrics({ brokerStats: () => stats }));

    expect(lines).toContain('# TYPE tryggheim_mqtt_auth_failures_total counter');
    expect(lines).toContain('tryggheim_mqtt_auth_failures_total{reason="bad_secret"} 3');
    expect(lines).toContain('tryggheim_mqtt_auth_failures_total{reason="unknown_device"} 2');
    expect(lines).toContain('tryggheim_mqtt_auth_failures_total{reason="locked_out"} 6');

    expect(lines).toContain('# TYPE tryggheim_mqtt_connections_accepted_total counter');
    expect(lines).toContain('tryggheim_mqtt_connections_accepted_total 11');
    expect(lines).toContain('tryggheim_mqtt_connections_refused_total{reason="rate"} 4');
    expect(lines).toContain('tryggheim_mqtt_packets_refused_total{reason="too_large"} 7');
    expect(lines).toContain('tryggheim_mqtt_publishes_total 120');
    expect(lines).toContain('tryggheim_mqtt_publishes_denied_total 2');
    expect(lines).toContain('tryggheim_mqtt_subscriptions_denied_total 1');
    expect(lines).toContain('tryggheim_mqtt_forwards_denied_total 9');
    expect(lines).toContain('tryggheim_mqtt_messages_dropped_total{reason="client_queue_full"} 8');
    expect(lines).toContain('tryggheim_mqtt_clients_cut_total{reason="disabled"} 2');
    expect(lines).toContain('tryggheim_mqtt_clients_cut_total{reason="secret_changed"} 1');

    for (const name of [
      'tryggheim_mqtt_connections_accepted_total',
      'tryggheim_mqtt_connections_refused_total',
      'tryggheim_mqtt_auth_failures_total',
      'tryggheim_mqtt_packets_refused_total',
      'tryggheim_mqtt_publishes_total',
      'tryggheim_mqtt_publishes_denied_total',
      'tryggheim_mqtt_subscriptions_denied_total',
      'tryggheim_mqtt_forwards_denied_total',
      'tryggheim_mqtt_messages_dropped_total',
      'tryggheim_mqtt_clients_cut_total',
    ]) {
      expect(lines, name).toContain(`# TYPE ${name} counter`);
    }
  });

  it('lists every label value of a closed enum, including those still at 0', async () => {
    const { stats } = stubStats();
    const lines = await scrape(createMetrics({ brokerStats: () => stats }));

    expect(lines).toContain('tryggheim_mqtt_connections_refused_total{reason="shutting_down"} 0');
    expect(lines).toContain('tryggheim_mqtt_packets_refused_total{reason="malformed"} 0');
    const authFailureSeries = lines.filter((l) => l.startsWith('tryggheim_mqtt_auth_failures_total{'));
    expect(authFailureSeries).toHaveLength(Object.keys(stats.authFailures).length);
  });

  it('exposes connection and client counts as gauges', async () => {
    const { stats } = stubStats();
    const lines = await scrape(createMetrics({ brokerStats: () => stats }));

    expect(lines).toContain('# TYPE tryggheim_mqtt_connections gauge');
    expect(lines).toContain('tryggheim_mqtt_connections 5');
    expect(lines).toContain('# TYPE tryggheim_mqtt_unauthenticated_connections gauge');
    expect(lines).toContain('tryggheim_mqtt_unauthenticated_connections 2');
    expect(lines).toContain('# TYPE tryggheim_mqtt_clients gauge');
    expect(lines).toContain('tryggheim_mqtt_clients 3');
  });

  it('reads the stats afresh at every scrape', async () => {
    const { stats, gauges } = stubStats();
    const metrics = createMetrics({ brokerStats: () => stats });
    const first = await scrape(metrics);
    expect(first).toContain('tryggheim_mqtt_auth_failures_total{reason="bad_secret"} 3');

    stats.authFailures.bad_secret = 10;
    stats.connectionsAccepted = 12;
    gauges.clients = 0;
    const second = await scrape(metrics);

    // The counter shows the broker's count, not the sum of scrapes (no 3 + 10).
    expect(second).toContain('tryggheim_mqtt_auth_failures_total{reason="bad_secret"} 10');
    expect(second).toContain('tryggheim_mqtt_connections_accepted_total 12');
    expect(second).toContain('tryggheim_mqtt_clients 0');
    expect(second).not.toContain('tryggheim_mqtt_clients 3');
  });

  it('scrapes without broker series while the broker is not running, and shows them once it is', async () => {
    let current: BrokerStats | undefined;
    const metrics = createMetrics({ brokerStats: () => current });

    const before = await scrape(metrics);
    expect(before.filter((l) => l.startsWith('tryggheim_mqtt_'))).toEqual([]);
    // Process metrics do not depend on the broker.
    expect(before.some((l) => l.startsWith('tryggheim_process_cpu_user_seconds_total '))).toBe(true);

    current = stubStats().stats;
    const running = await scrape(metrics);
    expect(running).toContain('tryggheim_mqtt_connections_accepted_total 11');
    expect(running).toContain('tryggheim_mqtt_clients 3');

    current = undefined;
    const stopped = await scrape(metrics);
    expect(stopped.filter((l) => l.startsWith('tryggheim_mqtt_'))).toEqual([]);
  });

  it('keeps each gateway in its own registry, away from the global one', async () => {
    const a = createMetrics({ brokerStats: () => stubStats().stats });
    const b = createMetrics({ brokerStats: () => undefined });

    expect(a.registry).not.toBe(b.registry);
    expect(await scrape(a)).toContain('tryggheim_mqtt_clients 3');
    expect((await scrape(b)).filter((l) => l.startsWith('tryggheim_mqtt_'))).toEqual([]);
    expect(globalRegistry.getSingleMetric('tryggheim_mqtt_clients')).toBeUndefined();
    expect(globalRegistry.getSingleMetric('tryggheim_process_cpu_user_seconds_total')).toBeUndefined();
  });
});
