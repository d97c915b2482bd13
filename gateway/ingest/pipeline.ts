import type { InboundMessage } from '../../broker/index.js';
import { bridgePrefix, parseDeviceTopic } from '../../broker/index.js';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import { decodeEntry, isTelemetryOnly, type DeadLetterReason, type Decoded, type Resolver } from './decode.js';
import type { Journal, JournalEntry, JournalRecord } from './journal.js';
import { REPLAYED_BYTES, REPLAYED_ROWS } from './dead-letters.js';
import { createStoragePass } from './storage-pass.js';
import { createTelemetryLane } from './telemetry-lane.js';

// raw message → journal (fsynced, before the ack) → decode → events on the bus (rules) → InfluxDB → journal
// entry removed. Two passes over the journal, each with its own cursor, so an InfluxDB outage never delays
// the events the alert rules need: the `rules` pass decodes and emits as soon as a message is journaled;
// the `storage` pass writes confirmed batches and removes what InfluxDB has acknowledged.

export interface StorageSink {
  /** Resolves when InfluxDB has confirmed every line; rejects with `{ retryable: boolean }` otherwise. */
  write(lines: readonly string[]): Promise<void>;
}

export interface IngestOptions {
  maxPayloadBytes: number;
  journalMaxBytes: number;
  /** Fraction of journalMaxBytes at which a gateway-health warning is raised. */
  journalWarnRatio: number;
  batchSize: number;
  flushIntervalMs: number;
  maxInFlight: number;
}

export interface IngestStats {
  accepted: number;
  events: number;
  deadLetters: Record<DeadLetterReason, number>;
  droppedTelemetry: number;
  pointsWritten: number;
  writeFailures: number;
  journalEntries: () => number;
  journalBytes: () => number;
  /** Journaled messages the rules pass has not handed to the rules yet (alert latency; tests wait for 0). */
  rulesLag: () => number;
}

export interface Ingest {
  /** For the broker's `accept` dep: journals device data; resolves once it is on disk. */
  accept(message: InboundMessage): Promise<void> | undefined;
  readonly stats: IngestStats;
  /** Wakes both passes and counts what a dead-letter replay added to the journal. */
  kick(): void;
  stop(): Promise<void>;
}

export interface IngestDeps {
  journal: Journal;
  resolver: Resolver;
  bus: EventBus;
  logger: Logger;
  now: () => number;
  storage?: { sink: StorageSink; toLine: (e: CanonicalEvent) => string };
  options: IngestOptions;
}

const RULES_CURSOR = 'rules';

export interface DeadLetterItem {
  entry: JournalEntry;
  reason: DeadLetterReason;
  issues: unknown;
  adapterId: string | null;
  adapterVersion: number | null;
}
const READ_CHUNK = 200;
/** A just-journaled entry with what was decoded when it arrived (none while the early path rests). */
interface RecentEntry extends JournalEntry {
  early?: Early;
}

interface Early {
  decoded: Decoded;
  /** Its events went to the rules before the journal commit (an alarm, a dose, a door). */
  handled: boolean;
}
/**
 * Backpressure (acks wait) while more than RULES_LAG_HIGH journaled messages wait for the rules pass, until
 * it is back under RULES_LAG_LOW. The rules pass shares the main thread with the broker; without this a
 * burst of publishes could take all of it, and decoding — the alerts — would fall behind without bound.
 * An InfluxDB outage never applies it: storage lag is what the journal is for.
 */
const RULES_LAG_HIGH = 8_000;
const RULES_LAG_LOW = 4_000;
/** Just-appended entries kept for the rules pass: a burst from every device at once fits (~200 B each). */
const MAX_RECENT = 20_000;

export function createIngest(deps: IngestDeps): Ingest {
  const { journal, resolver, bus, logger, now, options } = deps;
  const stats: IngestStats = {
    accepted: 0,
    events: 0,
    deadLetters: {
      unknown_device: 0,
      no_adapter: 0,
      unknown_child: 0,
      oversized: 0,
      malformed: 0,
      invalid_payload: 0,
      unsupported: 0,
      adapter_bug: 0,
      storage_rejected: 0,
    },
    droppedTelemetry: 0,
    pointsWritten: 0,
    writeFailures: 0,
    journalEntries: () => journal.count(),
    journalBytes: () => journal.bytes(),
    rulesLag: () => Math.max(0, lastAppended - rulesCursor),
  };

  let rulesCursor = journal.getCursor(RULES_CURSOR);
  let stopped = false;
  let rulesScheduled = false;
  const idle: (() => void)[] = [];
  let journalState: 'ok' | 'near_cap' | 'over_cap' = 'ok';

  /** One transaction for a whole chunk: a flood of bad payloads must not cost an fsync each. */
  function deadLetters(items: readonly DeadLetterItem[]): void {
    journal.deadLetter(
      items.map(({ entry, reason, issues, adapterId, adapterVersion }) => ({ entry, dl: { reason, issues, adapterId, adapterVersion } })),
    );
    for (const { entry, reason, adapterId } of items) {
      stats.deadLetters[reason] += 1;
      // Never the payload: it may be health data. The dead letter itself keeps the bytes for technicians.
      logger.warn(
        { event: 'ingest.dead_letter', deviceId: entry.principalId, seq: entry.seq, reason, adapter: adapterId },
        'message dead-lettered',
      );
    }
  }

  function checkCap(): void {
    if (journal.bytes() > options.journalMaxBytes) {
      // Only entries the rules pass has seen are candidates: their events are already on the bus.
      const dropped = journal.dropOldestTelemetry(options.journalMaxBytes, rulesCursor, isTelemetryEntry);
      if (dropped > 0) {
        stats.droppedTelemetry += dropped;
        logger.error({ event: 'ingest.telemetry_dropped', count: dropped }, 'journal over its cap: oldest telemetry dropped');
      }
    }
    const bytes = journal.bytes();
    const state =
      bytes > options.journalMaxBytes ? 'over_cap' : bytes > options.journalMaxBytes * options.journalWarnRatio ? 'near_cap' : 'ok';
    if (state !== journalState) {
      journalState = state;
      logger.warn({ event: 'gateway.health', check: 'journal', state, bytes, cap: options.journalMaxBytes }, 'journal fill level changed');
      bus.emit('gateway-health', { check: 'journal', state, detail: { bytes, cap: options.journalMaxBytes }, at: new Date(now()) });
    }
  }

  /** Decoding again is pure and only happens past the cap (an outage), not per message. */
  function isTelemetryEntry(entry: JournalEntry): boolean {
    const decoded = decodeEntry(entry, resolver, options.maxPayloadBytes);
    return decoded.ok && isTelemetryOnly(decoded.events);
  }

  // ── rules pass ───────────────────────────────────────────────────────────────────────────────────────
  /**
   * Entries this process just appended, so the rules pass need not read back what it wrote a moment ago
   * (the ingest benchmark measured journal reads at ~15 % of the CPU). Used only while they continue the
   * decoded position without a gap; anything else — after a restart, or entries a CLI replay inserted — is
   * read from the journal. Bounded by MAX_RECENT; past that the journal is read instead.
   */
  const recent = new Map<number, RecentEntry>();
  let lastAppended = 0;
  /**
   * Messages of this process not yet handed to the rules, per principal (accepted, journaled or queued). An
   * alarm may go to the rules before its journal commit only while its principal has none: never ahead of
   * its own device's earlier messages.
   */
  const unhandled = new Map<string, number>();
  /** Appends not yet committed, and whether `recent` overflowed (then the early path rests until caught up). */
  let appending = 0;
  let overflowed = false;
  const handedOver = (principal: string): void => {
    const left = (unhandled.get(principal) ?? 0) - 1;
    if (left > 0) unhandled.set(principal, left);
    else unhandled.delete(principal);
  };
  const lagWaiters: (() => void)[] = [];
  /** The highest seq decoded. Ahead of rulesCursor while decoded telemetry waits in the lane. */
  let decodedUpTo = rulesCursor;
  const lane = createTelemetryLane({ emit: (events) => bus.emit('events', events), handedOver });

  function nextForRules(): (JournalEntry | RecentEntry)[] {
    for (const seq of recent.keys()) {
      if (seq > decodedUpTo) break;
      recent.delete(seq); // already handled (read from the journal instead)
    }
    const out: RecentEntry[] = [];
    let expect = decodedUpTo + 1;
    for (const [seq, entry] of recent) {
      if (seq !== expect || out.length >= READ_CHUNK) break;
      out.push(entry);
      recent.delete(seq);
      expect += 1;
    }
    if (out.length > 0) return out;
    return journal.readAfter(decodedUpTo, READ_CHUNK).map((e) => {
      const kept = recent.get(e.seq);
      if (kept === undefined) return e;
      recent.delete(e.seq);
      return kept;
    });
  }

  function scheduleRules(): void {
    if (rulesScheduled || stopped) return;
    rulesScheduled = true;
    setImmediate(runRules);
  }

  /**
   * One bounded turn: decode what arrived (a chunk), alarms and doses to the rules at once, then telemetry
   * for a bounded time (the lane). Between turns the broker reads packets and writes PUBACKs: decoding a
   * whole burst in one go held the thread for tens of milliseconds, and every device waiting for an ack with it.
   */
  function runRules(): void {
    rulesScheduled = false;
    const entries = nextForRules();
    const dead: DeadLetterItem[] = [];
    // One 'events' emit per chunk, in journal order: the rule engine stores a chunk in one transaction.
    const urgent: CanonicalEvent[] = [];
    for (const entry of entries) {
      const early = 'early' in entry ? entry.early : undefined;
      const decoded = early?.decoded ?? decodeEntry(entry, resolver, options.maxPayloadBytes);
      if (!decoded.ok) {
        if (early !== undefined) handedOver(entry.principalId);
        dead.push({
          entry,
          reason: decoded.reason,
          issues: decoded.issues,
          adapterId: decoded.adapterId,
          adapterVersion: decoded.adapterVersion,
        });
        continue;
      }
      stats.events += decoded.events.length;
      storagePass?.handOff(entry.seq, decoded.events);
      if (early?.handled === true) continue; // already with the rules (before its commit)
      if (isTelemetryOnly(decoded.events)) {
        // Still counted in `unhandled` (an early one) until the lane hands it over.
        lane.push({ principal: entry.principalId, seq: entry.seq, events: decoded.events, early: early !== undefined });
        continue;
      }
      if (early !== undefined) handedOver(entry.principalId);
      for (const e of lane.take(entry.principalId)) urgent.push(e);
      for (const e of decoded.events) urgent.push(e);
    }
    if (urgent.length > 0) bus.emit('events', urgent);
    if (entries.length > 0) {
      deadLetters(dead);
      decodedUpTo = entries.at(-1)?.seq ?? decodedUpTo;
    }
    lane.run();
    // Everything up to the oldest telemetry still queued has been handed to the rules.
    const oldest = lane.oldestSeq();
    const handled = oldest === undefined ? decodedUpTo : oldest - 1;
    if (handled !== rulesCursor) {
      rulesCursor = handled;
      journal.setCursor(RULES_CURSOR, rulesCursor);
    }
    // More may be waiting (in memory, in the journal or in the lane): look again next turn until a pass finds nothing.
    if (entries.length > 0 || oldest !== undefined) scheduleRules();
    else if (overflowed && appending === 0 && recent.size === 0 && decodedUpTo >= lastAppended) {
      // Caught up after an overflow: nothing of this process is on its way to the rules any more.
      unhandled.clear();
      overflowed = false;
    }
    finishRules();
  }

  function finishRules(): void {
    if (lagWaiters.length > 0 && (lastAppended - rulesCursor <= RULES_LAG_LOW || stopped)) {
      for (const release of lagWaiters.splice(0)) release();
    }
    checkCap();
    scheduleStorage(false);
    settleIdle();
  }

  const storagePass = deps.storage
    ? createStoragePass({
        journal,
        resolver,
        bus,
        logger,
        now,
        storage: deps.storage,
        options,
        stats,
        rulesCursor: () => rulesCursor,
        deadLetters,
        afterWrite: checkCap,
        onIdle: settleIdle,
      })
    : undefined;
  function scheduleStorage(soon: boolean): void {
    if (!stopped) storagePass?.schedule(soon);
  }

  function settleIdle(): void {
    if ((storagePass?.inFlight() ?? 0) > 0 || rulesScheduled) return;
    for (const f of idle.splice(0)) f();
  }

  /**
   * Decodes a message as it arrives. An alarm, a dose or a door event goes to the rules at once, before its
   * journal commit (the commit and the rules backlog were most of a fall's publish → alert time under load):
   * an alert may be raised for a message whose commit then fails — the device, not acked, sends it again and
   * the rules see a repeat, which they ignore — but never later than the data allows. Telemetry waits for the
   * commit as before. Only while the principal has nothing older still on its way to the rules.
   */
  function decodeEarly(record: JournalRecord): Early {
    const decoded = decodeEntry({ ...record, seq: 0 }, resolver, options.maxPayloadBytes);
    const principal = record.principalId;
    if (decoded.ok && !isTelemetryOnly(decoded.events) && !unhandled.has(principal) && !stopped) {
      bus.emit('events', decoded.events);
      return { decoded, handled: true };
    }
    unhandled.set(principal, (unhandled.get(principal) ?? 0) + 1);
    return { decoded, handled: false };
  }

  // Entries journaled before a restart: decode what the rules pass had not reached, write everything.
  scheduleRules();
  scheduleStorage(true);
  // Entries added by another process (a dead-letter replay from the CLI) are picked up within a second, and
  // counted (the journal's counts follow this process's writes; removing uncounted entries would skew them).
  let replayed = { rows: journal.getCursor(REPLAYED_ROWS), bytes: journal.getCursor(REPLAYED_BYTES) };
  function adoptReplays(): void {
    const total = { rows: journal.getCursor(REPLAYED_ROWS), bytes: journal.getCursor(REPLAYED_BYTES) };
    journal.adopt(total.rows - replayed.rows, total.bytes - replayed.bytes);
    replayed = total;
  }
  const poll = setInterval(() => {
    adoptReplays();
    scheduleRules();
  }, 1000);
  poll.unref();

  return {
    stats,
    accept(message) {
      const target = journalTarget(message.topic, message.principal.kind, message.principal.id);
      if (target === undefined) return undefined; // status topics are not data: the broker reports them on its own
      const record = {
        receivedAt: now(),
        principalKind: message.principal.kind === 'bridge' ? ('bridge' as const) : ('device' as const),
        principalId: message.principal.id,
        subtopic: target,
        qos: message.qos,
        payload: message.payload,
      };
      const early = overflowed ? undefined : decodeEarly(record);
      appending += 1;
      return journal.append(record).then(
        (seq) => {
          stats.accepted += 1;
          lastAppended = Math.max(lastAppended, seq);
          appending -= 1;
          // Past the bound the entry is read back from the journal later (decoded again). An alarm the rules
          // already have is kept all the same (rare, small), so it is not handed to them twice.
          if (recent.size < MAX_RECENT || early?.handled === true)
            recent.set(seq, early === undefined ? { ...record, seq } : { ...record, seq, early });
          else if (early !== undefined) overflowed = true;
          scheduleRules();
          // Backpressure: the message is durable, but while the rules pass is far behind the ack waits, so
          // devices slow down instead of the backlog (and the alerts' delay) growing without bound.
          if (lastAppended - rulesCursor > RULES_LAG_HIGH) return new Promise<void>((resolve) => lagWaiters.push(resolve));
          return undefined;
        },
        (err: unknown) => {
          // Not journaled, not acked: the device sends it again. It is no longer on its way to the rules.
          appending -= 1;
          if (early !== undefined && !early.handled) handedOver(record.principalId);
          throw err;
        },
      );
    },
    kick() {
      adoptReplays(); // a replay added entries through another connection
      scheduleRules();
      scheduleStorage(true);
    },
    async stop() {
      stopped = true;
      for (const release of lagWaiters.splice(0)) release(); // journaled already: acking them is safe
      clearInterval(poll);
      storagePass?.stop();
      if ((storagePass?.inFlight() ?? 0) > 0) await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}

/** The journal's subtopic for a data topic, or undefined for topics that are not device data. */
function journalTarget(topic: string, kind: string, id: string): string | undefined {
  if (kind === 'bridge') {
    const prefix = bridgePrefix(id);
    return topic.startsWith(prefix) ? topic.slice(prefix.length) : undefined;
  }
  const parsed = parseDeviceTopic(topic);
  return parsed?.channel === 'up' ? 'up' : undefined;
}
