import { alertsPrefix } from '../../broker/acl.js';
import type { BrokerHandle } from '../../broker/types.js';
import { SEVERITY_RANK, type Alert, type AlertTransition, type OutboxEntry } from '../alerts/model.js';
import {
  RouteSchema,
  routes,
  type ChannelStats,
  type DeliveryChannel,
  type OutboxNotifier,
  type OutboxSource,
  type Route,
} from './channel.js';

// Alerts for integrations over MQTT (issue 5 item 5; DESIGN.md "Topics"), published by the gateway's own broker
// to `tryggheim/v1/alerts/{teamId}/...`, which only that team's service accounts may read (broker/acl.ts):
//
// - `.../events`: every transition, QoS 1, not retained, in outbox order. At least once: after a failure or a
//   restart a transition may come again, so receivers dedupe on `transition.id` (unique, increasing).
// - `.../open`: the team's open alerts, most urgent first, QoS 1, RETAINED, republished after every batch that
//   touched the team; `alerts: []` when none (an empty payload would delete the retained message, and a new
//   subscriber would then learn nothing). A new subscriber gets the current state at once.
//
// One retained list per team rather than one retained topic per alert (`.../open/{alertId}`, cleared with an
// empty retained message on resolve): each publish replaces the whole state at once, so a subscriber never sees
// half an update, and nothing can be left behind — a missed clear would leave a resolved alert retained forever,
// and `.../open/#` would match the list and the per-alert topics alike. The cost is one payload per team, bounded
// by what `openAlerts` returns.
//
// An entry is marked delivered once the broker has accepted both its event and its team's list (the publish
// promise resolved: stored, queued for offline persistent sessions, handed to online subscribers). MQTT gives
// the publisher no end-to-end ack; an integration that must not miss events connects with clean session 0 and
// subscribes at QoS 1, and the broker queues for it while it is away (up to broker.limits.maxQueuedPerClient).

export const MQTT_CHANNEL = 'mqtt';
/** Bumped only for a change that breaks receivers; fields may be added without it. */
export const ALERT_MESSAGE_SCHEMA_VERSION = 1;

export type MqttPublish = (topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>;

export interface MqttChannelLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface MqttAlertChannelDeps {
  outbox: OutboxSource;
  notifier: OutboxNotifier;
  /** Resolves once the broker accepted the message; `brokerPublisher(broker)` in the gateway. */
  publish: MqttPublish;
  /** The team's open alerts as they are now (alert store `list({ teamId, state: 'open' })`). */
  openAlerts: (teamId: string) => Alert[];
  /** Teams and severities carried; default every team, every severity. */
  route?: Route;
  logger: MqttChannelLogger;
  /** Slow poll for entries written by other processes (the CLI); the notifier wakes the channel at once. */
  pollMs?: number;
  /**
   * Teams whose open list is republished when the channel starts (e.g. every team with a home, plus the ops
   * team), so the retained state is right even if the broker lost its retained messages (persistence
   * `memory`) or the route changed. Without it, a team's list is (re)published with its next transition.
   */
  teams?: () => readonly string[];
  /** A publish not accepted within this long counts as failed (the entry stays pending). */
  publishTimeoutMs?: number;
  /** Epoch ms, for `failingSince`. */
  now?: () => number;
}

export interface AlertEventMessage {
  readonly schemaVersion: typeof ALERT_MESSAGE_SCHEMA_VERSION;
  readonly transition: AlertTransition;
  /** The alert right after the transition. */
  readonly alert: Alert;
}

export interface OpenAlertsMessage {
  readonly schemaVersion: typeof ALERT_MESSAGE_SCHEMA_VERSION;
  readonly teamId: string;
  /** Most urgent first: severity, then the oldest raise. */
  readonly alerts: readonly Alert[];
}

export const eventsTopic = (teamId: string): string => `${alertsPrefix(teamId)}events`;
export const openTopic = (teamId: string): string => `${alertsPrefix(teamId)}open`;

export function eventMessage(entry: OutboxEntry): AlertEventMessage {
  return { schemaVersion: ALERT_MESSAGE_SCHEMA_VERSION, transition: entry.transition, alert: entry.alert };
}

/** The retained list: only this team's open alerts that the route carries, whatever `openAlerts` handed in. */
export function openAlertsMessage(teamId: string, alerts: readonly Alert[], route: Route): OpenAlertsMessage {
  const mine = alerts
    .filter((a) => a.open && a.teamId === teamId && routes(route, a))
    .sort(
      (a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.raisedAt.localeCompare(b.raisedAt) || a.id.localeCompare(b.id),
    );
  return { schemaVersion: ALERT_MESSAGE_SCHEMA_VERSION, teamId, alerts: mine };
}

/** Publishes through the gateway's own broker, in process (aedes 1.x `publish(packet, callback)`). */
export function brokerPublisher(broker: Pick<BrokerHandle, 'aedes'>): MqttPublish {
  return (topic, payload, opts) =>
    new Promise<void>((resolve, reject) => {
      if (broker.aedes.closed) {
        reject(new Error('broker is closed'));
        return;
      }
      broker.aedes.publish({ cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain, dup: false }, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
}

const BATCH = 100;
const DEFAULT_POLL_MS = 5000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 30_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/** The channel was closed while a publish was in flight: touch nothing more (the database may be closed too). */
class Abandoned extends Error {}

export function createMqttAlertChannel(deps: MqttAlertChannelDeps): DeliveryChannel {
  const { outbox, notifier, publish, openAlerts, logger } = deps;
  const route = deps.route ?? RouteSchema.parse({});
  const pollMs = deps.pollMs ?? DEFAULT_POLL_MS;
  const timeoutMs = deps.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const now = deps.now ?? Date.now;

  let started = false;
  let closed = false;
  let running = false;
  let again = false;
  let resyncPending = deps.teams !== undefined;
  let unsubscribe: (() => void) | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let consecutiveFailures = 0;
  const stats = { delivered: 0, failures: 0, failingSince: null as string | null, lastError: null as string | null };

  const checkOpen = (): void => {
    if (closed) throw new Abandoned('channel closed');
  };

  async function send(topic: string, message: object, retain: boolean): Promise<void> {
    const payload = Buffer.from(JSON.stringify(message), 'utf8');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`publish not accepted within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([(async () => publish(topic, payload, { qos: 1, retain }))(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    checkOpen();
  }

  async function publishOpenList(teamId: string): Promise<void> {
    checkOpen();
    await send(openTopic(teamId), openAlertsMessage(teamId, openAlerts(teamId), route), true);
  }

  async function resync(teams: readonly string[]): Promise<void> {
    for (const teamId of new Set(teams)) {
      if (route.teams === '*' || route.teams.includes(teamId)) await publishOpenList(teamId);
    }
  }

  /** One page of the outbox; true when there may be more. Marks what went out even when a later publish failed. */
  async function drainPage(): Promise<boolean> {
    checkOpen();
    const entries = outbox.pendingOutbox(MQTT_CHANNEL, BATCH);
    if (entries.length === 0) return false;
    // Entries the route does not carry are done for this channel: left pending, they would block the page.
    const done: number[] = [];
    const sentByTeam = new Map<string, number[]>();
    let failure: Error | undefined;
    for (const entry of entries) {
      if (!routes(route, entry)) {
        done.push(entry.id);
        continue;
      }
      try {
        await send(eventsTopic(entry.teamId), eventMessage(entry), false);
      } catch (err) {
        if (err instanceof Abandoned) throw err;
        // Stop here: a later transition must never overtake this one.
        failure = asError(err);
        break;
      }
      const ids = sentByTeam.get(entry.teamId) ?? [];
      ids.push(entry.id);
      sentByTeam.set(entry.teamId, ids);
    }
    let delivered = 0;
    for (const [teamId, ids] of sentByTeam) {
      try {
        await publishOpenList(teamId);
      } catch (err) {
        if (err instanceof Abandoned) throw err;
        // This team's events stay pending and go out again with the list next time (receivers dedupe).
        failure ??= asError(err);
        continue;
      }
      done.push(...ids);
      delivered += ids.length;
    }
    checkOpen();
    if (done.length > 0) outbox.markDelivered(MQTT_CHANNEL, done);
    stats.delivered += delivered;
    if (failure !== undefined) throw failure;
    return entries.length === BATCH;
  }

  async function run(): Promise<void> {
    try {
      do {
        again = false;
        if (resyncPending && deps.teams) {
          checkOpen();
          await resync(deps.teams());
          resyncPending = false;
        }
        if (await drainPage()) again = true;
      } while (again && !closed);
      recovered();
    } catch (err) {
      if (err instanceof Abandoned || closed) return;
      failed(err);
    }
  }

  function kick(): void {
    if (!started || closed || retryTimer !== undefined) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void run().finally(() => {
      running = false;
    });
  }

  function recovered(): void {
    if (stats.failingSince !== null) {
      logger.info(
        { event: 'delivery.recovered', channel: MQTT_CHANNEL, failingSince: stats.failingSince },
        'MQTT alert delivery recovered',
      );
    }
    consecutiveFailures = 0;
    stats.failingSince = null;
  }

  function failed(err: unknown): void {
    consecutiveFailures += 1;
    stats.failures += 1;
    stats.failingSince ??= new Date(now()).toISOString();
    stats.lastError = shortError(err);
    const retryMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(consecutiveFailures - 1, 16));
    logger.warn(
      { event: 'delivery.failed', channel: MQTT_CHANNEL, error: stats.lastError, failures: consecutiveFailures, retryMs },
      'MQTT alert delivery failed; entries stay pending',
    );
    // Wake-ups are ignored until the retry: a broken broker is not hammered once per new transition.
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      kick();
    }, retryMs);
    retryTimer.unref();
  }

  return {
    name: MQTT_CHANNEL,
    start() {
      if (started || closed) return;
      started = true;
      unsubscribe = notifier.subscribe(kick);
      pollTimer = setInterval(kick, pollMs);
      pollTimer.unref();
      kick();
    },
    close() {
      closed = true;
      unsubscribe?.();
      clearInterval(pollTimer);
      clearTimeout(retryTimer);
      retryTimer = undefined;
      return Promise.resolve();
    },
    stats(): ChannelStats {
      return { ...stats };
    },
  };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(shortError(err));
}

/** No payloads, no secrets: the message of the error, bounded. */
function shortError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
