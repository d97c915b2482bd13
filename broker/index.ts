import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { parseDeviceTopic, TOPIC_ROOT } from './acl.js';
import { createConnections } from './connections.js';
import { createHooks, principalOf } from './hooks.js';
import { startListeners } from './listeners.js';
import { createLockout } from './lockout.js';
import { createPersistence } from './persistence.js';
import { createRevalidator } from './revalidate.js';
import { createStats } from './stats.js';
import type { BrokerDeps, BrokerHandle, BrokerOptions, Principal } from './types.js';

export type * from './types.js';
export { devicePolicy, openTestPolicy } from './policy.js';
export { deviceTopic, parseDeviceTopic, bridgePrefix, TOPIC_ROOT } from './acl.js';
export { silentLogger, type BrokerLogger } from './log.js';

/** Packets queued per client before CONNACK (aedes' `queueLimit`); a device waits for its CONNACK anyway. */
const PRE_CONNACK_QUEUE = 16;

/**
 * Starts the MQTT broker (aedes) with Tryggheim's policy and guards, listening as configured.
 * Rejects when a listener cannot bind; nothing is left running then.
 */
export async function startBroker(options: BrokerOptions, deps: BrokerDeps): Promise<BrokerHandle> {
  const now = deps.now ?? Date.now;
  const { limits } = options;
  const { policy, logger } = deps;
  // Assigned once aedes exists; the closures below need it before then (prefer-const can't see that).
  // eslint-disable-next-line prefer-const
  let aedesRef: Aedes | undefined;

  const stats = createStats({
    openConnections: () => connections.open(),
    unauthenticatedConnections: () => connections.unauthenticated(),
    // Not aedes' connectedClients: aedes 1.2.0 still registers a client whose socket closed while its CONNECT
    // waited on the session store, and never decrements it (found by the connections benchmark).
    connectedClients: () => connections.authenticatedOpen(),
  });
  const connections = createConnections({
    limits,
    logger,
    now,
    stats,
    handle: (conn) => {
      if (!aedesRef) throw new Error('broker not started');
      return aedesRef.handle(conn);
    },
  });
  const lockout = createLockout(options.lockout, now);
  const persistence = createPersistence(options.persistence, deps.dataDir, {
    maySubscribe: (client, filter) => {
      const p = principalOf(connections, client);
      return p !== undefined && policy.canSubscribe(p, filter);
    },
    maxQueuedPerClient: limits.maxQueuedPerClient,
    onDrop: (clientId, count) => {
      stats.messagesDropped.client_queue_full += count;
      logger.warn(
        { event: 'mqtt.message_dropped', deviceId: clientId, reason: 'client_queue_full' },
        'offline queue full, message dropped',
      );
    },
    onDeniedFilterStoreAttempt: (client, filter) => {
      logger.warn(
        { event: 'security.subscribe_denied', deviceId: client.id, filter, where: 'store' },
        'denied filter kept out of the session store',
      );
    },
  });

  const aedes = await Aedes.createBroker({
    persistence,
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    queueLimit: PRE_CONNACK_QUEUE,
    maxClientsIdLength: limits.maxClientIdLength,
    maxTopicLevels: limits.maxTopicLevels,
    ...createHooks({ policy, connections, lockout, limits, stats, logger, accept: deps.accept }),
  });
  aedesRef = aedes;

  // A persistence or will-sweeper failure is emitted as 'error' on the broker: log it, never crash.
  (aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => {
    logger.error({ event: 'mqtt.broker_error', err }, 'broker error');
  });
  aedes.on('clientError', (client, err) => {
    logger.debug({ event: 'mqtt.client_error', deviceId: client.id, msg: err.message }, 'client error');
  });
  aedes.on('connectionError', (client, err) => {
    logger.debug({ event: 'mqtt.connection_error', deviceId: client.id, msg: err.message }, 'connection error');
  });

  if (deps.onDeviceStatus) {
    const onStatus = deps.onDeviceStatus;
    aedes.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
      const principal = statusOwner(packet.topic, principalOf(connections, client));
      if (principal === undefined) return;
      try {
        onStatus({ principal, status: packet.payload.toString('utf8').trim(), retained: packet.retain });
      } catch (err) {
        logger.error({ event: 'mqtt.status_listener_error', err }, 'device status listener failed');
      }
    });
  }

  let listeners;
  try {
    listeners = await startListeners(
      options,
      limits,
      (conn, remote, listener) => {
        connections.accept(conn, remote, listener);
      },
      logger,
    );
  } catch (err) {
    await closeAedes(aedes);
    await persistence.destroy();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    aedes,
    stats,
    address: (name) => listeners.address(name),
    isListening: () => !aedes.closed && closing === undefined,
    cut: (clientId, reason) =>
      connections
        .authenticatedClients()
        .filter((c) => c.state.principal?.id === clientId)
        .filter((c) => connections.cut(c, reason)).length,
    revalidate: createRevalidator({ policy, connections, logger }),
    close() {
      closing ??= (async () => {
        connections.stopAccepting();
        await closeAedes(aedes);
        connections.destroyAll();
        await listeners.close();
        await persistence.destroy();
      })();
      return closing;
    },
  };
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => {
    aedes.close(() => {
      resolve();
    });
  });
}

/** Who a `.../status` publish speaks for: the publisher, or (a will from a dead broker) the topic's device. */
function statusOwner(topic: string, publisher: Principal | undefined): Principal | undefined {
  const dev = parseDeviceTopic(topic);
  if (dev?.channel === 'status') return publisher ?? { kind: 'device', id: dev.deviceId };
  if (!topic.startsWith(`${TOPIC_ROOT}/bridges/`)) return undefined;
  const [, , , bridgeId, ...rest] = topic.split('/');
  const tail = rest.join('/');
  if (bridgeId === undefined || (tail !== 'status' && tail !== 'bridge/state')) return undefined;
  return publisher ?? { kind: 'bridge', id: bridgeId };
}
