import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { Logger } from '../log.js';
import { workerScript } from '../process/worker-script.js';
import type { JournalRecord } from './journal.js';

// Appending to the journal: the one write a device's PUBACK waits for (docs/adr/006-ack-after-journal.md).
// Group commit: every record that arrives while the previous commit is being made shares the next
// transaction and its fsync. Two ways to run it, one code path for the SQL (`insertRecords`):
// - inline, on the caller's thread (tools, tests of the journal itself);
// - the append thread, so the gateway's main thread — which runs the broker — never blocks in fsync and
//   keeps reading packets while a commit is on its way to disk (the ingest benchmark's profile had the group
//   commit at ~8 % of the main thread, most of it waiting for the disk).

export interface Appender {
  /** Resolves with the record's seq once its transaction is committed with synchronous=FULL. */
  append(record: JournalRecord): Promise<number>;
  /** Commits what is queued and stops; later appends reject. */
  close(): Promise<void>;
}

/** INSERTs the records in one transaction; returns their seqs in order. */
export function insertRecords(db: BetterSqlite3.Database): (records: readonly JournalRecord[]) => number[] {
  const insert = db.prepare(
    'INSERT INTO journal (received_at, principal_kind, principal_id, subtopic, qos, payload) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq',
  );
  return db.transaction((records: readonly JournalRecord[]) =>
    records.map((r) => (insert.get(r.receivedAt, r.principalKind, r.principalId, r.subtopic, r.qos, r.payload) as { seq: number }).seq),
  );
}

interface Waiting {
  record: JournalRecord;
  resolve: (seq: number) => void;
  reject: (e: unknown) => void;
}

/** Group commit on this thread: appends in one event-loop turn share a transaction and one fsync. */
export function inlineAppender(db: BetterSqlite3.Database): Appender & { flushNow(): void } {
  const commit = insertRecords(db);
  let batch: Waiting[] = [];
  let scheduled = false;
  let closed = false;
  function flushNow(): void {
    scheduled = false;
    const items = batch;
    batch = [];
    if (items.length === 0) return;
    let seqs: number[];
    try {
      seqs = commit(items.map((i) => i.record));
    } catch (err) {
      for (const i of items) i.reject(err);
      return;
    }
    for (const [k, i] of items.entries()) i.resolve(seqs[k] ?? 0);
  }
  return {
    append(record) {
      if (closed) return Promise.reject(new Error('journal is closed'));
      return new Promise((resolve, reject) => {
        batch.push({ record, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flushNow);
        }
      });
    },
    flushNow,
    close() {
      closed = true;
      flushNow();
      return Promise.resolve();
    },
  };
}

export type AppendRequest = { op: 'append'; records: JournalRecord[] } | { op: 'close' };
export type AppendReply = { op: 'ready' } | { op: 'appended'; seqs: number[] } | { op: 'failed'; message: string } | { op: 'closed' };

/**
 * The append thread. At most one transaction is outstanding: records arriving meanwhile wait on this side
 * and go together in the next one, so the batch grows with the disk's latency (group commit).
 */
export async function startAppendThread(dataDir: string, logger: Logger): Promise<Appender> {
  let worker: Worker | undefined;
  let starting: Promise<Worker> | undefined;
  let queued: Waiting[] = [];
  let outstanding: Waiting[] | undefined;
  let closing: Promise<void> | undefined;
  let drained: (() => void) | undefined;

  function fail(items: readonly Waiting[], message: string): void {
    const err = new Error(message);
    for (const i of items) i.reject(err);
  }

  function spawn(): Promise<Worker> {
    starting ??= new Promise<Worker>((resolve, reject) => {
      const w = new Worker(workerScript(import.meta.url, 'gateway/ingest/journal-append-worker'), { workerData: { dataDir } });
      w.on('message', (msg: AppendReply) => {
        switch (msg.op) {
          case 'ready':
            worker = w;
            resolve(w);
            send();
            return;
          case 'appended': {
            const items = outstanding ?? [];
            outstanding = undefined;
            for (const [k, i] of items.entries()) i.resolve(msg.seqs[k] ?? 0);
            send();
            return;
          }
          case 'failed': {
            const items = outstanding ?? [];
            outstanding = undefined;
            fail(items, `journal append failed: ${msg.message}`);
            send();
            return;
          }
          case 'closed':
            return;
        }
      });
      w.on('error', (err) => {
        logger.error({ event: 'gateway.journal_thread', state: 'crashed', err }, 'journal append thread failed; it is restarted');
        reject(err);
      });
      w.on('exit', (code) => {
        worker = undefined;
        starting = undefined;
        // Whatever was in the lost transaction was not acknowledged: the devices resend it.
        if (outstanding) fail(outstanding, 'the journal append thread stopped');
        outstanding = undefined;
        if (closing === undefined) {
          logger.error({ event: 'gateway.journal_thread', state: 'exited', code }, 'journal append thread exited');
          reject(new Error(`journal append thread exited with code ${code}`));
          if (queued.length > 0) void spawn().catch(() => undefined);
        } else {
          fail(queued, 'journal is closed');
          queued = [];
          drained?.();
        }
      });
    });
    return starting;
  }

  function send(): void {
    if (outstanding || queued.length === 0) {
      if (!outstanding && queued.length === 0) drained?.();
      return;
    }
    if (!worker) {
      void spawn().catch(() => undefined);
      return;
    }
    outstanding = queued;
    queued = [];
    worker.postMessage({ op: 'append', records: outstanding.map((i) => i.record) } satisfies AppendRequest);
  }

  await spawn();

  return {
    append(record) {
      if (closing) return Promise.reject(new Error('journal is closed'));
      return new Promise((resolve, reject) => {
        queued.push({ record, resolve, reject });
        // Records of this event-loop turn arrive together; a send now would take only the first.
        if (queued.length === 1 && !outstanding) setImmediate(send);
      });
    },
    close() {
      closing ??= (async () => {
        if (outstanding || queued.length > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            send();
          });
        }
        const w = worker;
        if (w) {
          const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
          w.postMessage({ op: 'close' } satisfies AppendRequest);
          await exited;
        }
      })();
      return closing;
    },
  };
}
