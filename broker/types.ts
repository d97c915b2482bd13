import type { AddressInfo } from 'node:net';
import type { Aedes } from 'aedes';
import type { BrokerLogger } from './log.js';

/** Who is on the other end of an authenticated connection. */
export type Principal =
  | { readonly kind: 'device'; readonly id: string }
  | { readonly kind: 'bridge'; readonly id: string }
  /**
   * A read-only account for technicians' recorders (`tryggheim sim record`): may subscribe to device
   * `up`/`status` and bridge topics, never publish (so the ingest never sees it as a source of data).
   */
  | { readonly kind: 'observer'; readonly id: string }
  /**
   * An integration's account (a home-service system, a call centre) for one team's alerts: may subscribe
   * only under `tryggheim/v1/alerts/{teamId}/`, never publish and never read device traffic.
   */
  | { readonly kind: 'service'; readonly id: string; readonly teamId: string }
  /** Only under openTestPolicy(): a client the protocol tests let in without credentials. */
  | { readonly kind: 'test'; readonly id: string };

export type AuthRefusal = 'unknown_device' | 'bad_secret' | 'disabled' | 'missing_credentials' | 'identifier_rejected';

export type AuthResult = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: AuthRefusal };

/**
 * Why an open connection was closed because its credentials stopped being valid (`BrokerHandle.revalidate`,
 * `cut`): the account was disabled, its secret replaced, it was removed, or the same credentials now name
 * another principal (a service account moved to another team). `refused`: any other refusal.
 */
export type CutReason = 'disabled' | 'secret_changed' | 'removed' | 'principal_changed' | 'refused';

/** What one `revalidate()` pass did. `errors`: checks that threw; those clients were left connected. */
export interface RevalidateReport {
  readonly checked: number;
  readonly cut: number;
  readonly errors: number;
}

/**
 * Checks a device's credentials. The gateway backs it with the device registry; the broker never sees
 * how secrets are stored. Must verify the secret before it reports `disabled`, so that a stranger cannot
 * learn which ids exist.
 */
export type Authenticator = (deviceId: string, secret: Buffer) => AuthResult | Promise<AuthResult>;

export interface BrokerListenOptions {
  host: string;
  tcp: { enabled: boolean; port: number };
  tls: { port: number; certFile?: string | undefined; keyFile?: string | undefined; caFile?: string | undefined };
  ws: { enabled: boolean; port: number; path: string };
}

export interface BrokerLimits {
  maxConnectBytes: number;
  maxPacketBytes: number;
  maxUnauthenticated: number;
  connectRatePerSec: number;
  connectTimeoutMs: number;
  keepaliveMaxSec: number;
  drainTimeoutMs: number;
  maxQueuedPerClient: number;
  maxFiltersPerSubscribe: number;
  maxTopicLevels: number;
  maxClientIdLength: number;
  listenBacklog: number;
}

export interface LockoutOptions {
  maxFailures: number;
  windowSec: number;
  lockSec: number;
}

/** Structurally the gateway's `broker` config section. */
export interface BrokerOptions extends BrokerListenOptions {
  limits: BrokerLimits;
  lockout: LockoutOptions;
  persistence: 'level' | 'memory';
}

export type DeviceStatus = 'online' | 'offline' | (string & {});

/**
 * Who may connect and what they may do. Production uses `devicePolicy(authenticator)` (broker/policy.ts);
 * tests of protocol edge cases may use `openTestPolicy()` so that anonymous clients get past CONNECT.
 */
export interface AccessPolicy {
  readonly name: string;
  /** Called after the broker's own checks (client id, lockout, keepalive). */
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): AuthResult | Promise<AuthResult>;
  canPublish(principal: Principal, topic: string): boolean;
  canSubscribe(principal: Principal, filter: string): boolean;
  /** Enforced again at delivery: a message reaches a client only if it may read that topic. */
  canReceive(principal: Principal, topic: string): boolean;
}

export interface BrokerDeps {
  policy: AccessPolicy;
  logger: BrokerLogger;
  /** Directory for the persistent session store (used when persistence is `level`). */
  dataDir: string;
  /** Injected clock (ms since epoch) for lockout windows; defaults to Date.now. */
  now?: () => number;
  /**
   * Called for every authorised PUBLISH from a client, before the broker acknowledges it: the PUBACK
   * (QoS 1) / PUBREC (QoS 2) is sent only after the returned promise resolves. A rejection (or throw) closes
   * the connection without an ack, so the device sends the message again. Not called for the broker's own
   * publishes or for last wills.
   */
  accept?: (message: InboundMessage) => void | Promise<void>;
  /** A device's `.../status` topic changed (its own publish, or its last will when it vanished). */
  onDeviceStatus?: (event: { principal: Principal; status: DeviceStatus; retained: boolean }) => void;
}

export interface InboundMessage {
  readonly principal: Principal;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

/** Counters the broker keeps; the gateway exposes them as Prometheus metrics. Labels are closed enums. */
export interface BrokerStats {
  connectionsAccepted: number;
  connectionsRefused: Record<'rate' | 'unauthenticated_cap' | 'shutting_down', number>;
  authFailures: Record<AuthRefusal | 'locked_out' | 'keepalive', number>;
  packetsRefused: Record<'too_large' | 'malformed' | 'too_many_filters', number>;
  publishesAccepted: number;
  publishesDenied: number;
  /** Authorised, but `accept` failed: no ack was sent. */
  publishesFailed: number;
  subscriptionsDenied: number;
  forwardsDenied: number;
  messagesDropped: Record<'client_queue_full', number>;
  /** Open connections closed because their credentials stopped being valid. */
  clientsCut: Record<CutReason, number>;
  /** Sockets currently open, and of those, not yet authenticated. */
  openConnections: () => number;
  unauthenticatedConnections: () => number;
  /** Authenticated MQTT clients. */
  connectedClients: () => number;
}

export type ListenerName = 'tcp' | 'tls' | 'ws';

export interface BrokerHandle {
  readonly aedes: Aedes;
  readonly stats: BrokerStats;
  /** Bound address of a listener (tests listen on port 0), or undefined when it is not running. */
  address(listener: ListenerName): AddressInfo | undefined;
  /** True while every configured listener is accepting connections. */
  isListening(): boolean;
  /**
   * Closes every authenticated connection of this client id now (logged as `security.client_cut`); returns
   * how many. Its next CONNECT goes through the policy as usual and is told why it is refused.
   */
  cut(clientId: string, reason: CutReason): number;
  /**
   * Asks the policy again, with the credentials each authenticated client presented at CONNECT, and closes
   * the connections it now refuses: a disabled device, a replaced secret. Call it when the credential store
   * changed; the broker does not know when that is.
   */
  revalidate(): Promise<RevalidateReport>;
  close(): Promise<void>;
}
