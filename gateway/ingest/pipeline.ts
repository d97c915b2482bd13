import type { InboundMessage } from '../../broker/index.js';
import { bridgePrefix, parseDeviceTopic } from '../../broker/index.js';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import { decodeEntry, isTelemetryOnly, type DeadLetterReason, type Resolver } from './decode.js';
import type { Journal, JournalEntry } from './journal.js';

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
}

export interface Ingest {
  /** For the broker's `accept` dep: journals device data; resolves once it is on disk. */
  accept(message: InboundMessage): Promise<void> | undefined;
  readonly stats: IngestStats;
  /** Wakes both passes (e.g. after a dead-letter replay added entries). */
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
/**
 * Lines the rules pass already built, handed to the storage pass so a message is decoded once in the normal
 * case (the ingest benchmark measured decoding at two thirds of the CPU per message). Bounded: past it, and
 * after a restart, the storage pass decodes the journal entry again (adapters are pure, so the lines are equal).
 */
const MAX_HANDOFF = 50_000;
const READ_CHUNK = 500;
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
const MAX_BACKOFF_MS = 30_000;

interface Batch {
  seqs: number[];
  lines: string[];
  attempts: number;
}

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
  };

  let rulesCursor = journal.getCursor(RULES_CURSOR);
  let storeCursor = 0; // InfluxDB writes are idempotent: after a restart, everything still journaled is written again
  let stopped = false;
  let rulesScheduled = false;
  let storageTimer: NodeJS.Timeout | undefined;
  let inFlight = 0;
  const retries: Batch[] = [];
  let retryTimer: NodeJS.Timeout | undefined;
  const idle: (() => void)[] = [];
  let journalState: 'ok' | 'near_cap' | 'over_cap' = 'ok';
  const handoff = new Map<number, string[]>();
  let influxDownSince: number | undefined;

  interface DeadLetterItem {
    entry: JournalEntry;
    reason: DeadLetterReason;
    issues: unknown;
    adapterId: string | null;
    adapterVersion: number | null;
  }

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
   * cursor without a gap; anything else — after a restart, or entries a CLI replay inserted — is read from
   * the journal. Bounded by MAX_RECENT; past that the journal is read instead.
   */
  const recent = new Map<number, JournalEntry>();
  let lastAppended = 0;
  const lagWaiters: (() => void)[] = [];

  function nextForRules(): JournalEntry[] {
    for (const seq of recent.keys()) {
      if (seq > rulesCursor) break;
      recent.delete(seq); // already handled (read from the journal instead)
    }
    const out: JournalEntry[] = [];
    let expect = rulesCursor + 1;
    for (const [seq, entry] of recent) {
      if (seq !== expect || out.length >= READ_CHUNK) break;
      out.push(entry);
      recent.delete(seq);
      expect += 1;
    }
    return out.length > 0 ? out : journal.readAfter(rulesCursor, READ_CHUNK);
  }

  function scheduleRules(): void {
    if (rulesScheduled || stopped) return;
    rulesScheduled = true;
    setImmediate(runRules);
  }

  /**
   * One chunk per event-loop turn: between chunks the broker reads packets and writes PUBACKs. Decoding a
   * whole burst in one go held the thread for tens of milliseconds, and every device waiting for an ack with it.
   */
  function runRules(): void {
    rulesScheduled = false;
    const entries = nextForRules();
    const dead: DeadLetterItem[] = [];
    for (const entry of entries) {
      const decoded = decodeEntry(entry, resolver, options.maxPayloadBytes);
      if (!decoded.ok) {
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
      if (deps.storage && handoff.size < MAX_HANDOFF) handoff.set(entry.seq, decoded.events.map(deps.storage.toLine));
      bus.emit('events', decoded.events);
    }
    if (entries.length > 0) {
      deadLetters(dead);
      rulesCursor = entries.at(-1)?.seq ?? rulesCursor;
      journal.setCursor(RULES_CURSOR, rulesCursor);
      // More may be waiting (in memory or in the journal): look again next turn until a pass finds nothing.
      scheduleRules();
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

  // ── storage pass ─────────────────────────────────────────────────────────────────────────────────────
  function scheduleStorage(now_: boolean): void {
    if (!deps.storage || stopped) return;
    if (now_) {
      if (storageTimer) clearTimeout(storageTimer);
      storageTimer = undefined;
      setImmediate(runStorage);
      return;
    }
    storageTimer ??= setTimeout(() => {
      storageTimer = undefined;
      runStorage();
    }, options.flushIntervalMs);
  }

  /** The next batch of lines for entries the rules pass has handled, or undefined when there is none. */
  function nextBatch(): Batch | undefined {
    const seqs: number[] = [];
    const lines: string[] = [];
    const toLine = deps.storage?.toLine;
    if (!toLine) return undefined;
    while (lines.length < options.batchSize) {
      const next = journal.seqsBetween(storeCursor, rulesCursor, READ_CHUNK);
      if (next.length === 0) break;
      for (const seq of next) {
        if (lines.length >= options.batchSize) break;
        storeCursor = seq;
        const ready = handoff.get(seq);
        if (ready) {
          handoff.delete(seq);
          seqs.push(seq);
          lines.push(...ready);
          continue;
        }
        const entry = journal.get(seq);
        if (!entry) continue;
        const decoded = decodeEntry(entry, resolver, options.maxPayloadBytes);
        if (!decoded.ok) continue; // dead-lettered by the rules pass
        seqs.push(seq);
        for (const e of decoded.events) lines.push(toLine(e));
      }
    }
    // Hand-offs for entries that left the journal without being written (dropped past the cap) sit at the
    // front of the map (insertion order = journal order): forget them.
    for (const seq of handoff.keys()) {
      if (seq > storeCursor) break;
      handoff.delete(seq);
    }
    return seqs.length > 0 ? { seqs, lines, attempts: 0 } : undefined;
  }

  function runStorage(): void {
    if (!deps.storage || stopped) return;
    while (inFlight < options.maxInFlight) {
      // A failed batch goes first, so memory stays bounded by maxInFlight batches during an outage.
      if (retries.length > 0) {
        if (retryTimer !== undefined) break;
        const b = retries.shift();
        if (b) send(b);
        continue;
      }
      const batch = nextBatch();
      if (!batch) break;
      send(batch);
    }
    settleIdle();
  }

  function send(batch: Batch): void {
    const storage = deps.storage;
    if (!storage) return;
    inFlight += 1;
    storage.sink.write(batch.lines).then(
      () => {
        inFlight -= 1;
        journal.remove(batch.seqs);
        stats.pointsWritten += batch.lines.length;
        if (influxDownSince !== undefined) {
          logger.info(
            { event: 'gateway.health', check: 'influx', state: 'ok', downForMs: now() - influxDownSince },
            'InfluxDB writes succeed again',
          );
          bus.emit('gateway-health', { check: 'influx', state: 'ok', detail: {}, at: new Date(now()) });
          influxDownSince = undefined;
        }
        checkCap();
        if (!stopped) runStorage();
      },
      (err: unknown) => {
        inFlight -= 1;
        stats.writeFailures += 1;
        const retryable = (err as { retryable?: boolean }).retryable !== false;
        if (retryable) {
          batch.attempts += 1;
          if (influxDownSince === undefined) {
            influxDownSince = now();
            logger.warn(
              { event: 'gateway.health', check: 'influx', state: 'unreachable', err },
              'InfluxDB write failed; the journal keeps the data',
            );
            bus.emit('gateway-health', { check: 'influx', state: 'unreachable', detail: { message: String(err) }, at: new Date(now()) });
          }
          retries.push(batch);
          const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(batch.attempts, 8));
          retryTimer ??= setTimeout(() => {
            retryTimer = undefined;
            runStorage();
          }, delay);
        } else {
          isolate(batch, err);
        }
        settleIdle();
      },
    );
  }

  /** A non-retryable refusal (e.g. a field type conflict): write entry by entry, dead-letter the ones refused. */
  function isolate(batch: Batch, err: unknown): void {
    logger.error(
      { event: 'ingest.storage_rejected', entries: batch.seqs.length, err },
      'InfluxDB refused a batch: isolating the bad entries',
    );
    const storage = deps.storage;
    if (!storage) return;
    inFlight += 1;
    void (async () => {
      for (const seq of batch.seqs) {
        const entry = journal.get(seq);
        if (!entry) continue;
        const decoded = decodeEntry(entry, resolver, options.maxPayloadBytes);
        if (!decoded.ok) continue;
        try {
          await storage.sink.write(decoded.events.map((e) => storage.toLine(e)));
          journal.remove([seq]);
          stats.pointsWritten += decoded.events.length;
        } catch (e) {
          if ((e as { retryable?: boolean }).retryable === false) {
            deadLetters([
              {
                entry,
                reason: 'storage_rejected',
                issues: [{ path: [], code: 'storage_rejected', message: String(e).slice(0, 500) }],
                adapterId: decoded.adapter.id,
                adapterVersion: decoded.adapter.version,
              },
            ]);
          } else {
            retries.push({ seqs: [seq], lines: decoded.events.map((ev) => storage.toLine(ev)), attempts: 1 });
          }
        }
      }
      inFlight -= 1;
      if (!stopped) runStorage();
    })();
  }

  function settleIdle(): void {
    if (inFlight > 0 || rulesScheduled) return;
    for (const f of idle.splice(0)) f();
  }

  // Entries journaled before a restart: decode what the rules pass had not reached, write everything.
  scheduleRules();
  scheduleStorage(true);
  // Entries added by another process (a dead-letter replay from the CLI) are picked up within a second.
  const poll = setInterval(scheduleRules, 1000);
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
      return journal.append(record).then((seq) => {
        stats.accepted += 1;
        lastAppended = Math.max(lastAppended, seq);
        if (recent.size < MAX_RECENT) recent.set(seq, { ...record, seq });
        scheduleRules();
        // Backpressure: the message is durable, but while the rules pass is far behind the ack waits, so
        // devices slow down instead of the backlog (and the alerts' delay) growing without bound.
        if (lastAppended - rulesCursor > RULES_LAG_HIGH) return new Promise<void>((resolve) => lagWaiters.push(resolve));
        return undefined;
      });
    },
    kick() {
      scheduleRules();
      scheduleStorage(true);
    },
    async stop() {
      stopped = true;
      for (const release of lagWaiters.splice(0)) release(); // journaled already: acking them is safe
      clearInterval(poll);
      if (storageTimer) clearTimeout(storageTimer);
      if (retryTimer) clearTimeout(retryTimer);
      if (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
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
