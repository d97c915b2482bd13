import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import { bridgePrefix, deviceTopic } from './acl.js';
import type { Connections } from './connections.js';
import type { BrokerLogger } from './log.js';
import type { Lockout } from './lockout.js';
import type { MutableStats } from './stats.js';
import type { AccessPolicy, AuthRefusal, BrokerDeps, BrokerLimits, Principal } from './types.js';

// The aedes hooks: deny by default. aedes' own defaults accept every login, publish and subscription.

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3. */
const RC = { IDENTIFIER_REJECTED: 2, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

const REFUSAL_CODE: Record<AuthRefusal, number> = {
  missing_credentials: RC.BAD_USERNAME_OR_PASSWORD,
  unknown_device: RC.BAD_USERNAME_OR_PASSWORD, // same answer as a wrong secret: ids are not enumerable
  bad_secret: RC.BAD_USERNAME_OR_PASSWORD,
  identifier_rejected: RC.IDENTIFIER_REJECTED,
  disabled: RC.NOT_AUTHORIZED,
};

/**
 * Client ids become topic levels (`tryggheim/v1/devices/{id}/...`) and log fields: printable ASCII without
 * MQTT wildcards, `/`, `$` or spaces. Registry ids are stricter still; this stops anything else early.
 */
const SAFE_CLIENT_ID = /^[A-Za-z0-9._:@-]+$/;

/** Failures that count towards a lockout: guessing, not a disabled device presenting its right secret. */
const COUNTS_FOR_LOCKOUT: Record<AuthRefusal, boolean> = {
  missing_credentials: true,
  unknown_device: true,
  bad_secret: true,
  identifier_rejected: true,
  disabled: false,
};

export interface HookDeps {
  policy: AccessPolicy;
  connections: Connections;
  lockout: Lockout;
  limits: BrokerLimits;
  stats: MutableStats;
  logger: BrokerLogger;
  accept?: BrokerDeps['accept'];
}

type Hooks = Required<Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>>;

export function principalOf(connections: Connections, client: Client | null | undefined): Principal | undefined {
  return connections.state(client?.conn)?.principal;
}

type EarlyRefusal = { reason: 'identifier_rejected' | 'locked_out' | 'keepalive' | 'will_denied'; code: number };

export function createHooks({ policy, connections, lockout, limits, stats, logger, accept }: HookDeps): Hooks {
  function refuse(
    client: Client,
    reason: AuthRefusal | 'locked_out' | 'keepalive' | 'will_denied',
    code: number,
    done: (e: AuthenticateError, ok: null) => void,
  ): void {
    const st = connections.state(client.conn);
    const deviceId = st?.requestedId;
    if (reason === 'will_denied') stats.publishesDenied += 1;
    else stats.authFailures[reason] += 1;
    if (reason in COUNTS_FOR_LOCKOUT && COUNTS_FOR_LOCKOUT[reason as AuthRefusal] && st) {
      const lockedId = deviceId !== undefined && deviceId !== '' && lockout.fail(`dev:${deviceId}`);
      const lockedAddr = lockout.fail(`addr:${st.remote}`);
      if (lockedId || lockedAddr) {
        logger.warn(
          { event: 'security.lockout', deviceId: lockedId ? deviceId : undefined, remote: lockedAddr ? st.remote : undefined },
          'too many failed MQTT logins: locked out',
        );
      }
    }
    // One line per security event; never the secret (the password is not even in scope here).
    logger.warn(
      { event: 'security.auth_failed', deviceId, remote: st?.remote, listener: st?.listener, reason, returnCode: code },
      'MQTT login refused',
    );
    const err = new Error(`connection refused: ${reason}`) as AuthenticateError;
    (err as { returnCode: number }).returnCode = code;
    done(err, null);
  }

  function acceptFailed(err: unknown, principal: Principal): void {
    stats.publishesFailed += 1;
    logger.error({ event: 'mqtt.accept_failed', deviceId: principal.id, err }, 'message not accepted (no ack sent, connection closed)');
  }

  /** Checks that need no credentials, in the order a device is best told about them. */
  function earlyRefusal(id: string, st: NonNullable<ReturnType<Connections['state']>>): EarlyRefusal | undefined {
    // [MQTT-3.1.3-8] a zero-byte client id must be refused (aedes would invent one); and we key sessions by device id.
    if (id === '' || id.length > limits.maxClientIdLength || !SAFE_CLIENT_ID.test(id))
      return { reason: 'identifier_rejected', code: RC.IDENTIFIER_REJECTED };
    if (lockout.lockedFor([`dev:${id}`, `addr:${st.remote}`]) > 0) return { reason: 'locked_out', code: RC.NOT_AUTHORIZED };
    // No keepalive means a dead device is never noticed; MQTT 3.1.1 has no CONNACK code for this, 5 is the closest.
    if (st.keepalive === 0 || st.keepalive > limits.keepaliveMaxSec) return { reason: 'keepalive', code: RC.NOT_AUTHORIZED };
    // [MQTT-3.1.2-14] a will QoS of 3 is a protocol violation (mqtt-packet lets it through).
    if (st.willQos !== undefined && st.willQos > 2) return { reason: 'will_denied', code: RC.NOT_AUTHORIZED };
    return undefined;
  }

  return {
    preConnect(client, packet, done) {
      const st = connections.state(client.conn);
      if (st) {
        st.requestedId = packet.clientId;
        st.keepalive = packet.keepalive ?? 0;
        st.willTopic = packet.will?.topic;
        st.willQos = packet.will?.qos;
      }
      done(null, true);
    },

    authenticate(client, username, password, done) {
      const st = connections.state(client.conn);
      if (!st) {
        refuse(client, 'identifier_rejected', RC.IDENTIFIER_REJECTED, done);
        return;
      }
      const id = st.requestedId ?? '';
      // [MQTT-3.1.3-8] a zero-byte client id must be refused (aedes would invent one); and we key sessions by device id.
      const early = earlyRefusal(id, st);
      if (early !== undefined) {
        refuse(client, early.reason, early.code, done);
        return;
      }

      const finish = (result: Awaited<ReturnType<AccessPolicy['authenticate']>>): void => {
        if (!result.ok) return refuse(client, result.reason, REFUSAL_CODE[result.reason], done);
        // A last will is published by the broker on the device's behalf later: check its topic now, while
        // the device can still be told why, rather than dropping it silently at disconnect.
        if (st.willTopic !== undefined && !policy.canPublish(result.principal, st.willTopic)) {
          return refuse(client, 'will_denied', RC.NOT_AUTHORIZED, done);
        }
        connections.authenticated(client.conn, result.principal, { username, password });
        logger.debug(
          { event: 'mqtt.connected', deviceId: result.principal.id, remote: st.remote, listener: st.listener },
          'MQTT client connected',
        );
        done(null, true);
      };
      try {
        const result = policy.authenticate(id, username, password);
        if (result instanceof Promise) {
          result.then(finish, (err: unknown) => {
            logger.error({ event: 'mqtt.auth_error', err }, 'authenticator failed');
            const e = new Error('server unavailable') as AuthenticateError;
            (e as { returnCode: number }).returnCode = 3;
            done(e, null);
          });
        } else finish(result);
      } catch (err) {
        logger.error({ event: 'mqtt.auth_error', err }, 'authenticator failed');
        const e = new Error('server unavailable') as AuthenticateError;
        (e as { returnCode: number }).returnCode = 3;
        done(e, null);
      }
    },

    authorizePublish(client, packet, done) {
      let principal = principalOf(connections, client);
      if (client === null) {
        // A last will left by a broker that died: it was checked at CONNECT; its owner is the will's client id.
        const owner = (packet as { clientId?: string }).clientId;
        const ok = owner !== undefined && (packet.topic === deviceTopic(owner, 'status') || packet.topic.startsWith(bridgePrefix(owner)));
        if (!ok) stats.publishesDenied += 1;
        done(ok ? null : new Error('not authorized'));
        return;
      }
      if (principal === undefined || !policy.canPublish(principal, packet.topic)) {
        stats.publishesDenied += 1;
        principal ??= undefined;
        logger.warn(
          {
            event: 'security.publish_denied',
            deviceId: principal?.id,
            remote: connections.state(client.conn)?.remote,
            topic: packet.topic,
          },
          'MQTT publish refused, connection closed',
        );
        done(new Error('not authorized'));
        return;
      }
      if (accept === undefined) {
        stats.publishesAccepted += 1;
        done(null);
        return;
      }
      // aedes writes the PUBACK (QoS 1) / PUBREC (QoS 2) right after this callback: the device is told
      // "received" only once `accept` has made the message durable (docs/adr/006-ack-after-journal.md).
      let pending: void | Promise<void>;
      try {
        pending = accept({ principal, topic: packet.topic, payload: packet.payload as Buffer, qos: packet.qos, retain: packet.retain });
      } catch (err) {
        acceptFailed(err, principal);
        done(new Error('not accepted'));
        return;
      }
      if (pending instanceof Promise) {
        pending.then(
          () => {
            stats.publishesAccepted += 1;
            done(null);
          },
          (err: unknown) => {
            acceptFailed(err, principal);
            done(new Error('not accepted'));
          },
        );
      } else {
        stats.publishesAccepted += 1;
        done(null);
      }
    },

    authorizeSubscribe(client, sub, done) {
      const st = connections.state(client.conn);
      const principal = st?.principal;
      if (st?.filterFlood) {
        done(null, null);
        return;
      }
      if (principal === undefined || !policy.canSubscribe(principal, sub.topic)) {
        stats.subscriptionsDenied += 1;
        logger.warn(
          { event: 'security.subscribe_denied', deviceId: principal?.id, remote: st?.remote, filter: sub.topic },
          'MQTT subscription refused',
        );
        done(null, null); // SUBACK 0x80 for this filter [MQTT-3.9.3]
        return;
      }
      if (principal.kind === 'observer') {
        // An observer reads other devices' traffic (health data): who read what is part of the audit trail.
        logger.info(
          { event: 'security.observer_subscribed', deviceId: principal.id, remote: st?.remote, filter: sub.topic },
          'observer subscribed to device traffic',
        );
      } else if (principal.kind === 'service') {
        // An integration reads a team's alerts (home ids, alert titles): audited the same way.
        logger.info(
          { event: 'security.service_subscribed', deviceId: principal.id, teamId: principal.teamId, remote: st?.remote, filter: sub.topic },
          'service account subscribed to team alerts',
        );
      }
      done(null, sub);
    },

    authorizeForward(client, packet) {
      const principal = principalOf(connections, client);
      if (principal === undefined || !policy.canReceive(principal, packet.topic)) {
        stats.forwardsDenied += 1;
        logger.warn({ event: 'security.forward_denied', deviceId: principal?.id, topic: packet.topic }, 'MQTT delivery refused by ACL');
        return null;
      }
      return packet;
    },
  };
}
