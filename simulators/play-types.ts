import type { Action, ClientKind, Clock, Credentials, Qos } from './types.js';

// The player's public vocabulary (player.ts plays, recording.ts writes what was played).

export type PublishAction = Extract<Action, { op: 'publish' }>;

/** A message the player made the broker publish, in stream order (recording.ts writes these). */
export interface PlayedMessage {
  readonly at: number;
  readonly client: string;
  readonly kind: ClientKind;
  readonly topic: string;
  readonly qos: Qos;
  readonly retain: boolean;
  readonly payload: Buffer;
}

export interface PlaySink {
  write(message: PlayedMessage): void;
}

export interface PlayProgress {
  readonly actions: number;
  readonly published: number;
  readonly acknowledged: number;
  readonly failed: number;
  readonly refused: number;
  readonly inFlight: number;
  /** The clock's time of the last action taken from the stream. */
  readonly at: number;
}

export interface PlayOptions {
  /** `mqtt://host:port` (or mqtts://, ws://). */
  broker: string;
  credentials: Credentials;
  /** Kind of each client id (decides its status topic); clients not listed are devices. */
  kinds?: Readonly<Record<string, ClientKind>>;
  /** The player waits `clock.waitUntil(action.at)` before each action: a virtual clock jumps, others wait. */
  clock: Clock;
  /** QoS 1/2 publishes a client may have without an ack (default 32). */
  maxInFlight?: number;
  /**
   * Before the clock moves forward, wait until every lane is idle and every publish acked. For tests whose
   * gateway reads the same virtual clock: each message arrives at the time it was sent. A number lets the
   * clock run up to that many (virtual) milliseconds ahead between settles: messages then arrive at most that
   * late — what matters for payloads without a device time, which the gateway dates at receipt — and a
   * simulated day needs a settle per minute of it, not one per message.
   */
  settle?: boolean | number;
  /** Actions read from the stream but not yet taken by their lane (default 10,000). */
  maxQueued?: number;
  connectAttempts?: number;
  connectTimeoutMs?: number;
  /** Sends of one message before it counts as failed (default 3). */
  publishAttempts?: number;
  /** A full in-flight window that sees no ack for this long is a dead connection (default 30 s). */
  ackTimeoutMs?: number;
  /** After a drop, the client's lane pauses this long (default 100 ms) so the will is out before it reconnects. */
  dropGraceMs?: number;
  /** At the end, how long to wait for the last acks (default 30 s). */
  drainTimeoutMs?: number;
  onProgress?: (progress: PlayProgress) => void;
  progressIntervalMs?: number;
  /** Receives what the broker was asked to publish, status messages included. */
  record?: PlaySink;
  /** Stops reading the stream; what was taken is still played and drained. */
  signal?: AbortSignal;
}

export interface PlaySummary {
  readonly actions: number;
  readonly clients: number;
  /** Distinct publish actions sent to the broker (resends not counted again). */
  readonly published: number;
  /** QoS 1/2 publishes acknowledged by the broker. */
  readonly acknowledged: number;
  /** QoS 0 publishes written to the socket (QoS 0 has no acknowledgement). */
  readonly qos0: number;
  /** Resends after a connection was lost before the ack. */
  readonly retried: number;
  /** Publishes never acknowledged: attempts used up, the client could not connect, or the drain timed out. */
  readonly failed: number;
  /** Publishes not sent because their client was refused. */
  readonly skipped: number;
  /** Clients the broker (or the credentials file) refused, with the reason; the run went on without them. */
  readonly refused: readonly { readonly client: string; readonly reason: string }[];
  /** Counted failure reasons (connect errors, lost connections, publish errors). */
  readonly errors: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
  /** Acknowledged (and QoS 0) publishes per wall-clock second. */
  readonly ratePerSec: number;
  /** PUBACK latency of QoS 1/2 publishes, milliseconds; null when none was acked. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
}
