import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import { decodeEntry, type Resolver } from './decode.js';
import type { Journal } from './journal.js';
import type { DeadLetterItem, IngestStats, StorageSink } from './pipeline.js';

// The storage pass (docs/adr/006): batches of lines for the entries the rules pass has handled, written to
// InfluxDB with at most `maxInFlight` requests at once; an entry leaves the journal only after InfluxDB
// confirmed its batch. Retryable failures back off and retry the same batch first (memory stays bounded
// during an outage); a refused batch is written entry by entry and the refused entries are dead-lettered.

export interface StoragePassDeps {
  journal: Journal;
  resolver: Resolver;
  bus: EventBus;
  logger: Logger;
  now: () => number;
  storage: { sink: StorageSink; toLine: (e: CanonicalEvent) => string };
  options: { batchSize: number; flushIntervalMs: number; maxInFlight: number; maxPayloadBytes: number };
  stats: IngestStats;
  /** Entries up to this seq have been through the rules pass (dead letters moved, lines maybe handed off). */
  rulesCursor: () => number;
  deadLetters: (items: readonly DeadLetterItem[]) => void;
  /** After InfluxDB confirmed a batch (the pipeline checks the journal's cap). */
  afterWrite: () => void;
  /** When nothing is in flight any more. */
  onIdle: () => void;
}

export interface StoragePass {
  /** Lines for an entry, built by the rules pass, so the entry need not be decoded again. */
  handOff(seq: number, events: readonly CanonicalEvent[]): void;
  /** Soon (`now`: next turn) or within flushIntervalMs. */
  schedule(now: boolean): void;
  inFlight(): number;
  stop(): void;
}

/**
 * Lines the rules pass already built, handed to the storage pass so a message is decoded once in the normal
 * case (the ingest benchmark measured decoding at two thirds of the CPU per message). Bounded: past it, and
 * after a restart, the storage pass decodes the journal entry again (adapters are pure, so the lines are equal).
 */
const MAX_HANDOFF = 50_000;
const READ_CHUNK = 500;
const MAX_BACKOFF_MS = 30_000;

interface Batch {
  seqs: number[];
  lines: string[];
  attempts: number;
}

export function createStoragePass(deps: StoragePassDeps): StoragePass {
  const { journal, resolver, bus, logger, now, storage, options, stats } = deps;
  const { toLine } = storage;
  let storeCursor = 0; // InfluxDB writes are idempotent: after a restart, everything still journaled is written again
  let stopped = false;
  let storageTimer: NodeJS.Timeout | undefined;
  let inFlight = 0;
  const retries: Batch[] = [];
  let retryTimer: NodeJS.Timeout | undefined;
  const handoff = new Map<number, string[]>();
  let influxDownSince: number | undefined;

  function scheduleStorage(now_: boolean): void {
    if (stopped) return;
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
    while (lines.length < options.batchSize) {
      const next = journal.seqsBetween(storeCursor, deps.rulesCursor(), READ_CHUNK);
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
    if (stopped) return;
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
    deps.onIdle();
  }

  function send(batch: Batch): void {
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
        deps.afterWrite();
        // Stopped: nothing more is sent, but `stop()` waits for this write; it must hear that it ended.
        if (stopped) deps.onIdle();
        else runStorage();
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
        deps.onIdle();
      },
    );
  }

  /** A non-retryable refusal (e.g. a field type conflict): write entry by entry, dead-letter the ones refused. */
  function isolate(batch: Batch, err: unknown): void {
    logger.error(
      { event: 'ingest.storage_rejected', entries: batch.seqs.length, err },
      'InfluxDB refused a batch: isolating the bad entries',
    );
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
            deps.deadLetters([
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
      if (stopped) deps.onIdle();
      else runStorage();
    })();
  }

  return {
    handOff(seq, events) {
      if (handoff.size < MAX_HANDOFF) handoff.set(seq, events.map(toLine));
    },
    schedule: scheduleStorage,
    inFlight: () => inFlight,
    stop() {
      stopped = true;
      if (storageTimer) clearTimeout(storageTimer);
      if (retryTimer) clearTimeout(retryTimer);
    },
  };
}
