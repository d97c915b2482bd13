import type { BrokerStats } from './types.js';

export type MutableStats = BrokerStats;

export function createStats(
  gauges: Pick<BrokerStats, 'openConnections' | 'unauthenticatedConnections' | 'connectedClients'>,
): MutableStats {
  return {
    connectionsAccepted: 0,
    connectionsRefused: { rate: 0, unauthenticated_cap: 0, shutting_down: 0 },
    authFailures: {
      unknown_device: 0,
      bad_secret: 0,
      disabled: 0,
      missing_credentials: 0,
      identifier_rejected: 0,
      locked_out: 0,
      keepalive: 0,
    },
    packetsRefused: { too_large: 0, malformed: 0, too_many_filters: 0 },
    publishesAccepted: 0,
    publishesDenied: 0,
    publishesFailed: 0,
    subscriptionsDenied: 0,
    forwardsDenied: 0,
    messagesDropped: { client_queue_full: 0 },
    clientsCut: { disabled: 0, secret_changed: 0, removed: 0, principal_changed: 0, refused: 0 },
    ...gauges,
  };
}
