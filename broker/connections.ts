import type { Duplex } from 'node:stream';
import type { Client } from 'aedes';
import { createPacketGuard } from './guard.js';
import type { BrokerLogger } from './log.js';
import type { MutableStats } from './stats.js';
import type { BrokerLimits, CutReason, ListenerName, Principal } from './types.js';

// Admission and per-connection state, in front of aedes: a connection-rate token bucket, a cap on sockets
// that have not authenticated yet, the byte-level packet guard, and the cap on filters per SUBSCRIBE. And the
// way out for a client whose credentials stopped being valid while it was connected (`cut`).

/**
 * What a client presented at CONNECT, kept while it is connected so that `revalidate()` can ask the policy
 * again when an account is disabled or its secret replaced. In memory only, never logged; zeroed at close.
 */
export interface PresentedCredentials {
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
}

export interface ConnState {
  readonly listener: ListenerName;
  readonly remote: string;
  /** What the client asked for in CONNECT (aedes replaces an empty client id before our hooks see it). */
  requestedId: string | undefined;
  keepalive: number;
  willTopic: string | undefined;
  willQos: number | undefined;
  principal: Principal | undefined;
  credentials: PresentedCredentials | undefined;
  filterFlood: boolean;
}

export interface OpenClient {
  readonly conn: Duplex;
  readonly state: ConnState;
}

export interface Connections {
  /** Hands a new socket to aedes, or refuses it. */
  accept(conn: Duplex, remote: string, listener: ListenerName): void;
  state(conn: Duplex | undefined): ConnState | undefined;
  authenticated(conn: Duplex, principal: Principal, credentials: PresentedCredentials): void;
  /** Authenticated connections still open (a snapshot: closing some while walking it is safe). */
  authenticatedClients(): OpenClient[];
  /** Closes an authenticated connection whose credentials are no longer valid; false if it was already closed. */
  cut(client: OpenClient, reason: CutReason): boolean;
  open(): number;
  unauthenticated(): number;
  /** Open sockets whose client authenticated (aedes' own `connectedClients` can overcount, see below). */
  authenticatedOpen(): number;
  /** Refuse every new socket (shutdown). */
  stopAccepting(): void;
  /** Destroys sockets aedes does not know about yet. */
  destroyAll(): void;
}

interface Deps {
  limits: BrokerLimits;
  stats: MutableStats;
  logger: BrokerLogger;
  now: () => number;
  handle: (conn: Duplex) => Client;
}

/** The presented secret lives no longer than the connection. */
function forget(state: ConnState): void {
  state.credentials?.password?.fill(0);
  state.credentials = undefined;
}

export function createConnections({ limits, stats, logger, now, handle }: Deps): Connections {
  const states = new WeakMap<Duplex, ConnState>();
  const live = new Set<Duplex>();
  let unauth = 0;
  let authed = 0;
  let accepting = true;
  // Token bucket: burst of one second's worth, refilled continuously.
  let tokens = limits.connectRatePerSec;
  let lastRefill = now();

  function takeToken(): boolean {
    const t = now();
    tokens = Math.min(limits.connectRatePerSec, tokens + ((t - lastRefill) * limits.connectRatePerSec) / 1000);
    lastRefill = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  function refuse(conn: Duplex, remote: string, listener: ListenerName, reason: keyof MutableStats['connectionsRefused']): void {
    stats.connectionsRefused[reason] += 1;
    logger.warn({ event: 'security.connection_refused', remote, listener, reason }, 'MQTT connection refused');
    conn.on('error', () => undefined);
    conn.destroy();
  }

  return {
    accept(conn, remote, listener) {
      if (!accepting) {
        refuse(conn, remote, listener, 'shutting_down');
        return;
      }
      if (!takeToken()) {
        refuse(conn, remote, listener, 'rate');
        return;
      }
      if (unauth >= limits.maxUnauthenticated) {
        refuse(conn, remote, listener, 'unauthenticated_cap');
        return;
      }
      stats.connectionsAccepted += 1;
      unauth += 1;
      const state: ConnState = {
        listener,
        remote,
        requestedId: undefined,
        keepalive: 0,
        willTopic: undefined,
        willQos: undefined,
        principal: undefined,
        credentials: undefined,
        filterFlood: false,
      };
      states.set(conn, state);
      live.add(conn);
      conn.once('close', () => {
        live.delete(conn);
        if (state.principal === undefined) unauth -= 1;
        else authed -= 1;
        forget(state);
      });

      const client = handle(conn);

      // aedes reads with 'readable' + read(); a 'data' listener added after that sees every chunk as read()
      // returns it, before aedes parses it, without switching the stream to flowing mode (Node docs,
      // "Choose one API style": 'readable' takes precedence). Pinned by test/broker/oversize-flood.timing.test.ts.
      const guard = createPacketGuard(() => (state.principal === undefined ? limits.maxConnectBytes : limits.maxPacketBytes));
      conn.on('data', (chunk: Buffer) => {
        const verdict = guard.scan(chunk);
        if (verdict.ok) return;
        stats.packetsRefused[verdict.reason] += 1;
        logger.warn(
          {
            event: 'security.packet_refused',
            remote,
            listener,
            deviceId: state.principal?.id ?? state.requestedId,
            reason: verdict.reason,
            declared: verdict.declared,
            limit: verdict.limit,
          },
          'MQTT packet refused, connection closed',
        );
        conn.destroy();
      });

      // aedes stores a SUBSCRIBE's filters in a loop that is quadratic in their number and blocks the whole
      // broker; count them as the packet is parsed, before aedes handles it. `_parser` is aedes' internal
      // mqtt-packet parser; test/broker/subscribe-limits.timing.test.ts fails if an upgrade moves it.
      const parser = (
        client as unknown as {
          _parser?: { prependListener(ev: 'packet', fn: (p: { cmd: string; subscriptions?: unknown[] }) => void): void };
        }
      )._parser;
      if (parser === undefined) throw new Error('aedes client has no _parser: the SUBSCRIBE filter cap cannot be enforced');
      parser.prependListener('packet', (packet) => {
        if (packet.cmd !== 'subscribe' || (packet.subscriptions?.length ?? 0) <= limits.maxFiltersPerSubscribe) return;
        state.filterFlood = true;
        stats.packetsRefused.too_many_filters += 1;
        logger.warn(
          {
            event: 'security.packet_refused',
            remote,
            listener,
            deviceId: state.principal?.id,
            reason: 'too_many_filters',
            filters: packet.subscriptions?.length,
            limit: limits.maxFiltersPerSubscribe,
          },
          'MQTT SUBSCRIBE refused, connection closed',
        );
        conn.destroy();
      });
    },
    state: (conn) => (conn === undefined ? undefined : states.get(conn)),
    authenticated(conn, principal, credentials) {
      const state = states.get(conn);
      if (state === undefined || state.principal !== undefined) return;
      state.principal = principal;
      // A copy: the parser's buffer is not ours to zero, and this one is zeroed when the socket closes.
      state.credentials = { username: credentials.username, password: credentials.password && Buffer.from(credentials.password) };
      unauth -= 1;
      authed += 1;
    },
    authenticatedClients() {
      const out: OpenClient[] = [];
      for (const conn of live) {
        const state = states.get(conn);
        if (state?.principal !== undefined && !conn.destroyed) out.push({ conn, state });
      }
      return out;
    },
    cut({ conn, state }, reason) {
      if (conn.destroyed || state.principal === undefined) return false;
      stats.clientsCut[reason] += 1;
      logger.warn(
        {
          event: 'security.client_cut',
          deviceId: state.principal.id,
          kind: state.principal.kind,
          reason,
          remote: state.remote,
          listener: state.listener,
        },
        'MQTT connection closed: its credentials are no longer valid',
      );
      // As for a refused packet: the socket goes, aedes cleans the client up and publishes its last will
      // (`offline`), so the gateway sees the device leave as it would after a power cut.
      conn.destroy();
      return true;
    },
    open: () => live.size,
    unauthenticated: () => unauth,
    authenticatedOpen: () => authed,
    stopAccepting() {
      accepting = false;
    },
    destroyAll() {
      for (const conn of live) conn.destroy();
    },
  };
}
