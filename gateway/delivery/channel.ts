import { z } from 'zod';
import type { OutboxEntry } from '../alerts/model.js';
import { SEVERITIES, SeveritySchema, type AlertSignal } from '../alerts/signal.js';
import { TeamIdSchema } from '../devices/ids.js';

// The contract between the alert outbox (gateway/alerts) and the delivery channels (issue 5 item 5): SSE for
// dashboards, MQTT for integrations, webhooks. Each channel consumes the outbox on its own, by name, and
// marks an entry delivered only once its receiver has confirmed it; nothing else in the gateway knows how.

/** What a channel reads and marks: the alert store's outbox (AlertStore satisfies it). */
export interface OutboxSource {
  /** Oldest first, entries this channel has not marked delivered (a channel new to the outbox starts at its end). */
  pendingOutbox(channel: string, limit?: number): OutboxEntry[];
  /** Call only after the receiver confirmed; idempotent. */
  markDelivered(channel: string, ids: readonly number[]): number;
}

/**
 * Says "new outbox entries were committed" (the gateway notifies after every store call that writes; channels
 * also poll slowly, for writers in other processes such as the CLI). Listeners must not throw.
 */
export interface OutboxNotifier {
  subscribe(listener: () => void): () => void;
  notify(): void;
}

export function createOutboxNotifier(): OutboxNotifier {
  const listeners = new Set<() => void>();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    notify() {
      for (const l of listeners) {
        try {
          l();
        } catch {
          // A channel's wake-up failing must not stop the others; the channel's own poll catches up.
        }
      }
    },
  };
}

/** Routing (issue 5 item 5: "each channel subscribed per team and severity"). */
export const RouteSchema = z.strictObject({
  /** Team ids this channel carries, or '*' for every team (the ops team included). */
  teams: z.union([z.literal('*'), z.array(TeamIdSchema).min(1)]).default('*'),
  /** The least severe alert carried: 'high' carries critical and high. */
  minSeverity: SeveritySchema.default('low'),
});
export type Route = z.infer<typeof RouteSchema>;

/** Does the channel carry this entry? */
export function routes(route: Route, entry: Pick<OutboxEntry, 'teamId' | 'severity'>): boolean {
  const teamOk = route.teams === '*' || route.teams.includes(entry.teamId);
  return teamOk && SEVERITIES.indexOf(entry.severity) <= SEVERITIES.indexOf(route.minSeverity);
}

/**
 * How a channel reports its own health as a technical alert on the other channels ("a webhook failing for N
 * minutes"): a `gateway-health` signal with homeId null and subject `<kind>:<id>` (`webhook:north-emergency`); the gateway
 * applies it to the alert store. Must not throw.
 */
export type HealthSignalSink = (signal: AlertSignal) => void;

export interface ChannelStats {
  readonly delivered: number;
  /** Attempts that failed (each retry counts). */
  readonly failures: number;
  /** ISO time since when the channel has been failing without a success, else null. */
  readonly failingSince: string | null;
  /** Short error text of the last failure (no payloads, no secrets). */
  readonly lastError: string | null;
}

export interface DeliveryChannel {
  /** The outbox channel name (ChannelSchema): `mqtt`, `webhook-<id>`. */
  readonly name: string;
  start(): void;
  /** Stops delivering; an attempt in flight is abandoned (its entry stays pending, delivered again later). */
  close(): Promise<void>;
  stats(): ChannelStats;
}
