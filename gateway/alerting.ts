import type { CanonicalEvent } from '../adapters/canonical.js';
import type { DeviceStatus, Principal } from '../broker/index.js';
import type { EscalationPolicyInput } from './alerts/escalation.js';
import { SEVERITY_RANK, type AcknowledgeInput, type Alert, type AlertTransition, type ResolveInput } from './alerts/model.js';
import { SEVERITIES, type AlertSignal, type Severity } from './alerts/signal.js';
import { createAlertStore, type AlertStore } from './alerts/store.js';
import type { CarePlan } from './care/model.js';
import { createCareStore, type CareStore } from './care/store.js';
import type { GatewayClock } from './clock.js';
import type { Database } from './db/sqlite.js';
import { createOutboxNotifier, type DeliveryChannel, type OutboxNotifier } from './delivery/channel.js';
import { createSseHub, type SseHub } from './delivery/sse.js';
import type { DeviceRegistry } from './devices/registry.js';
import type { EventBus, GatewayHealthEvent } from './events.js';
import type { Logger } from './log.js';
import type { AnyRule, DeviceKind } from './rules/contract.js';
import { createRuleEngine, type RuleEngine } from './rules/engine.js';
import { RULES } from './rules/registry.js';

// The running alert path (DESIGN.md steps 7–9), composed for gateway/main.ts: events and device status from the
// bus go to the rule engine; its signals go to the alert lifecycle in the engine's own transaction; every
// committed change wakes the delivery channels; escalations and reminders fire on the alert store's next
// deadline; the gateway's own health (journal, InfluxDB, delivery) becomes `gateway-health` alerts.

export interface AlertingDeps {
  readonly db: Database;
  readonly clock: GatewayClock;
  readonly registry: DeviceRegistry;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly policy?: EscalationPolicyInput;
  readonly rules?: readonly AnyRule[];
  /** InfluxDB unreachable this long → a gateway-health alert. */
  readonly influxDownAlertMs?: number;
  /**
   * The outbox channels the gateway will start (`mqtt`, `webhook-<id>`): their cursors are opened before anything
   * can raise an alert, so a channel's first start misses nothing, and pruning keeps what any of them has pending.
   */
  readonly channels?: readonly string[];
  /** Outbox rows older than this, delivered by every channel, are deleted (default 30 days). */
  readonly outboxRetentionMs?: number;
}

export interface Alerting {
  readonly care: CareStore;
  readonly alerts: AlertStore;
  readonly engine: RuleEngine;
  readonly notifier: OutboxNotifier;
  readonly hub: SseHub;
  /** Applies a signal that does not come from a rule (gateway health, a channel's own health). */
  apply(signal: AlertSignal): AlertTransition[];
  acknowledge(alertId: string, input: AcknowledgeInput): AlertTransition[];
  resolve(alertId: string, input: ResolveInput): AlertTransition[];
  /** Starts the channels; they are closed with the rest. */
  addChannels(channels: readonly DeliveryChannel[]): void;
  listOpen(filter: { teams: '*' | readonly string[] }): Alert[];
  close(): Promise<void>;
}

/** How often a care plan changed by another process (the CLI) is looked for. */
const CARE_POLL_MS = 1000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Outbox pruning: at most this many rows per run (one short transaction), hourly, or after a second while behind. */
const PRUNE_BATCH = 1000;
const PRUNE_AGAIN_MS = 1000;

export function startAlerting(deps: AlertingDeps): Alerting {
  const { db, clock, registry, bus, logger } = deps;
  const log = logger.child({ component: 'alerts' });
  const care = createCareStore({ db, now: () => new Date(clock.now()) });
  const alerts = createAlertStore({ db, now: () => clock.now(), ...(deps.policy ? { policy: deps.policy } : {}) });
  alerts.openOutboxCursors(deps.channels ?? []);
  const notifier = createOutboxNotifier();
  const plans = createPlanCache(db, care);
  const kinds = new Map<string, DeviceKind | undefined>();
  const channels: DeliveryChannel[] = [];
  let wrote = false;

  const deviceKind = (deviceId: string): DeviceKind | undefined => {
    if (kinds.has(deviceId)) return kinds.get(deviceId);
    // A device's kind never changes once it is added; an unknown id is not cached (it may be added later).
    const kind = registry.getDevice(deviceId)?.kind;
    if (kind === undefined || kind === 'observer') return undefined;
    if (kinds.size > 100_000) kinds.clear();
    kinds.set(deviceId, kind);
    return kind;
  };

  const engine = createRuleEngine({
    db,
    clock,
    care: plans,
    rules: deps.rules ?? RULES,
    logger: log,
    homes: () => registry.listHomes().map((h) => h.id),
    deviceKind,
    openFailures: () =>
      alerts
        .list({ state: 'active', limit: 5000 })
        .filter((a) => a.rule === 'rule-failure' && a.homeId !== null)
        .map((a) => ({ homeId: a.homeId ?? '', subject: a.subject })),
    onSignal(signal) {
      logTransitions(alerts.apply(signal));
      wrote = true;
    },
  });

  /**
   * One line per transition the gateway itself makes (raised, cleared, escalated, reminded…), so a technician
   * can follow an alert in the log; ids and codes only — the title and evidence stay in the database.
   * Acknowledge and resolve are people's actions: the audit log and the HTTP/CLI lines have them.
   */
  function logTransitions(transitions: readonly AlertTransition[]): void {
    for (const t of transitions) {
      log.info(
        {
          event: 'alerts.transition',
          type: t.type,
          alertId: t.alertId,
          rule: t.rule,
          homeId: t.homeId,
          teamId: t.teamId,
          severity: t.severity,
        },
        'alert transition',
      );
    }
  }

  let tickHandle: { cancel(): void } | undefined;
  let tickAt: number | undefined;
  let closed = false;

  /** Arms one timer at the alert store's earliest deadline (escalation, reminder, follow-up). */
  function armTick(): void {
    if (closed) return;
    let next: number | undefined;
    try {
      next = alerts.nextDeadline();
    } catch (err) {
      log.error({ event: 'alerts.deadline_read_failed', err }, 'could not read alert deadlines; retrying in a minute');
      next = clock.now() + MINUTE;
    }
    if (next === tickAt) return;
    tickHandle?.cancel();
    tickAt = next;
    tickHandle = next === undefined ? undefined : clock.setTimer(next, runTick);
  }

  function runTick(): void {
    tickAt = undefined;
    tickHandle = undefined;
    if (closed) return;
    try {
      const ticked = alerts.tick(clock.now());
      logTransitions(ticked);
      if (ticked.length > 0) notifier.notify();
    } catch (err) {
      log.error({ event: 'alerts.tick_failed', err }, 'escalation tick failed; retrying in a minute');
      tickHandle = clock.setTimer(clock.now() + MINUTE, runTick);
      return;
    }
    armTick();
  }

  let pruneHandle: { cancel(): void } | undefined;
  const retentionMs = deps.outboxRetentionMs ?? 30 * 24 * HOUR;

  /** Deletes old outbox rows every channel has delivered, a batch per run; a backlog (an upgrade) goes quickly. */
  function pruneOutbox(): void {
    pruneHandle = undefined;
    if (closed) return;
    let behind = false;
    try {
      const names = new Set([...(deps.channels ?? []), ...channels.map((c) => c.name)]);
      const deleted = alerts.pruneOutbox(new Date(clock.now() - retentionMs), [...names], PRUNE_BATCH);
      behind = deleted === PRUNE_BATCH;
      if (deleted > 0) log.info({ event: 'alerts.outbox_pruned', deleted }, 'deleted delivered alert outbox rows past retention');
    } catch (err) {
      log.error({ event: 'alerts.outbox_prune_failed', err }, 'could not prune the alert outbox; retrying in an hour');
    }
    pruneHandle = clock.setTimer(clock.now() + (behind ? PRUNE_AGAIN_MS : HOUR), pruneOutbox);
  }

  /** After anything that may have written transitions: wake the channels and re-aim the tick. */
  function afterWrites(): void {
    if (!wrote) return;
    wrote = false;
    notifier.notify();
    armTick();
  }

  const apply = (signal: AlertSignal): AlertTransition[] => {
    const out = alerts.apply(signal);
    logTransitions(out);
    wrote = out.length > 0 || wrote;
    afterWrites();
    return out;
  };

  // ── Inputs from the bus ──────────────────────────────────────────────────────────────────────────────
  const offEvents = bus.on('events', (events: readonly CanonicalEvent[]) => {
    plans.refresh(engine);
    engine.handleEvents(events);
    afterWrites();
  });
  const offStatus = bus.on('device-status', (change: { principal: Principal; status: DeviceStatus }) => {
    const { principal, status } = change;
    if (principal.kind !== 'device' && principal.kind !== 'bridge') return;
    if (status !== 'online' && status !== 'offline') return;
    const at = clock.now();
    const homeId = registry.homeAt(principal.id, new Date(at));
    if (homeId === undefined) return;
    plans.refresh(engine);
    engine.handleDeviceStatus({ deviceId: principal.id, homeId, kind: deviceKind(principal.id), online: status === 'online', at });
    afterWrites();
  });
  const health = gatewayHealth(apply, clock, deps.influxDownAlertMs ?? 5 * MINUTE);
  const offHealth = bus.on('gateway-health', (e: GatewayHealthEvent) => health.on(e));

  const hub = createSseHub(alerts, notifier, log);
  engine.start();
  // Overdue timers fire on the clock's next tick; the alert deadlines are armed now.
  wrote = true;
  afterWrites();
  // Plans edited by the CLI are noticed even while no device speaks.
  let pollHandle: { cancel(): void } | undefined;
  const poll = (): void => {
    if (closed) return;
    plans.refresh(engine);
    afterWrites();
    // Transitions written by another process (`tryggheim alerts ack` in a shell) reach the live streams too.
    hub.pump();
    pollHandle = clock.setTimer(clock.now() + CARE_POLL_MS, poll);
  };
  poll();
  // The first run a minute after start, so a gateway restarted more often than hourly still prunes.
  pruneHandle = clock.setTimer(clock.now() + MINUTE, pruneOutbox);

  return {
    care,
    alerts,
    engine,
    notifier,
    hub,
    apply,
    acknowledge(alertId, input) {
      const out = alerts.acknowledge(alertId, input);
      wrote = true;
      afterWrites();
      return out;
    },
    resolve(alertId, input) {
      const out = alerts.resolve(alertId, input);
      wrote = true;
      afterWrites();
      return out;
    },
    addChannels(list) {
      for (const c of list) {
        channels.push(c);
        c.start();
      }
    },
    listOpen({ teams }) {
      if (teams === '*') return alerts.list({ state: 'open' });
      const all = teams.flatMap((teamId) => alerts.list({ state: 'open', teamId }));
      return all.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.raisedAt.localeCompare(b.raisedAt));
    },
    async close() {
      closed = true;
      offEvents();
      offStatus();
      offHealth();
      health.close();
      tickHandle?.cancel();
      pollHandle?.cancel();
      pruneHandle?.cancel();
      engine.close();
      hub.close();
      await Promise.all(channels.map((c) => c.close()));
    },
  };
}

/**
 * The rules' care look-up, cached: a plan is read once and kept until its home's revision changes (a trigger
 * bumps it on every care edit, from any process — gateway/care/revision-migration.ts). `refresh` compares
 * revisions at most once per CARE_POLL_MS and re-arms the dose deadlines of homes whose plan changed.
 */
function createPlanCache(db: Database, care: CareStore) {
  const revisionsQuery = db.prepare<[], { home_id: string; revision: number }>('SELECT home_id, revision FROM care_revisions');
  const cache = new Map<string, CarePlan | undefined>();
  let revisions = new Map<string, number>(revisionsQuery.all().map((r) => [r.home_id, r.revision]));
  let checkedAt = 0;
  return {
    planFor(homeId: string): CarePlan | undefined {
      if (cache.has(homeId)) return cache.get(homeId);
      const plan = care.planFor(homeId);
      // Unknown homes are not cached: a home added a moment later must be found.
      if (plan !== undefined) cache.set(homeId, plan);
      return plan;
    },
    refresh(engine: RuleEngine): void {
      const t = Date.now();
      if (t - checkedAt < CARE_POLL_MS) return;
      checkedAt = t;
      const now = new Map(revisionsQuery.all().map((r) => [r.home_id, r.revision]));
      const changed = [...now].filter(([h, r]) => revisions.get(h) !== r).map(([h]) => h);
      revisions = now;
      for (const homeId of changed) {
        cache.delete(homeId);
        engine.replan(homeId);
      }
    },
  };
}

/**
 * Turns the bus's health events into `gateway-health` alerts for the ops team: the journal near or over its cap
 * at once, InfluxDB only after it has been unreachable for a while (a restart of InfluxDB is not an incident).
 */
function gatewayHealth(apply: (s: AlertSignal) => unknown, clock: GatewayClock, influxAfterMs: number) {
  let influxTimer: { cancel(): void } | undefined;
  let influxRaised = false;
  const signal = (
    action: 'raise' | 'clear',
    subject: string,
    severity: AlertSignal['severity'],
    title: string,
    note?: string,
  ): AlertSignal => ({
    action,
    rule: 'gateway-health',
    homeId: null,
    subject,
    severity,
    kind: 'technical',
    title,
    at: clock.now(),
    evidence: note === undefined ? [] : [{ note }],
  });
  return {
    on(e: GatewayHealthEvent): void {
      if (e.check === 'journal') {
        if (e.state === 'ok') apply(signal('clear', 'journal', 'high', 'Journal below its warning level'));
        else if (e.state === 'near_cap') apply(signal('raise', 'journal', 'high', 'Journal near its cap', 'InfluxDB may be behind'));
        else if (e.state === 'over_cap')
          apply(signal('raise', 'journal', 'critical', 'Journal over its cap: oldest telemetry dropped', 'alarms and doses are kept'));
        return;
      }
      if (e.state === 'unreachable') {
        influxTimer ??= clock.setTimer(clock.now() + influxAfterMs, () => {
          influxRaised = true;
          apply(
            signal('raise', 'influxdb', 'high', 'InfluxDB unreachable', `no write succeeded for ${Math.round(influxAfterMs / MINUTE)} min`),
          );
        });
      } else if (e.state === 'ok') {
        influxTimer?.cancel();
        influxTimer = undefined;
        if (influxRaised) apply(signal('clear', 'influxdb', 'high', 'InfluxDB reachable again'));
        influxRaised = false;
      }
    },
    close(): void {
      influxTimer?.cancel();
    },
  };
}

type PerSeverity<T> = Partial<Record<Severity, T>>;

/** The config's minutes (gateway/config/schema.ts `alerts.escalation`) as the store's policy overrides. */
export function escalationPolicy(c: {
  ackMinutes: PerSeverity<number>;
  followUpMinutes: PerSeverity<number>;
  reminderMinutes: PerSeverity<number>;
  chain?: string[] | undefined;
  opsTeamId: string;
}): EscalationPolicyInput {
  const ms = <T>(m: PerSeverity<number>, f: (v: number) => T): PerSeverity<T> => {
    const out: PerSeverity<T> = {};
    for (const sev of SEVERITIES) {
      const v = m[sev];
      if (v !== undefined) out[sev] = f(v);
    }
    return out;
  };
  return {
    ackDeadlineMs: ms(c.ackMinutes, (v) => v * MINUTE),
    followUpDeadlineMs: ms(c.followUpMinutes, (v) => v * MINUTE),
    reminderIntervalMs: ms(c.reminderMinutes, (v) => (v === 0 ? null : v * MINUTE)),
    ...(c.chain ? { chain: c.chain } : {}),
    opsTeamId: c.opsTeamId,
  };
}
