import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { Logger } from '../log.js';
import { workerScript } from '../process/worker-script.js';
import type { DeadLetterRow, JournalRecord } from './journal.js';

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

/**
 * Records cross to the thread column by column, payloads concatenated into one buffer: a structured clone of
 * thousands of small objects was ~7 % of the main thread in the ingest benchmark's profile.
 */
export interface PackedRecords {
  receivedAt: number[];
  principalKind: JournalRecord['principalKind'][];
  principalId: string[];
  subtopic: string[];
  qos: number[];
  payloadEnd: number[];
  payloads: Uint8Array;
}

export function packRecords(records: readonly JournalRecord[]): PackedRecords {
  const payloadEnd: number[] = [];
  let end = 0;
  for (const r of records) {
    end += r.payload.length;
    payloadEnd.push(end);
  }
  return {
    receivedAt: records.map((r) => r.receivedAt),
    principalKind: records.map((r) => r.principalKind),
    principalId: records.map((r) => r.principalId),
    subtopic: records.map((r) => r.subtopic),
    qos: records.map((r) => r.qos),
    payloadEnd,
    payloads: Buffer.concat(
      records.map((r) => r.payload),
      end,
    ),
  };
}

export function unpackRecords(p: PackedRecords): JournalRecord[] {
  const all = Buffer.from(p.payloads.buffer, p.payloads.byteOffset, p.payloads.byteLength);
  let start = 0;
  return p.receivedAt.map((receivedAt, i) => {
    const end = p.payloadEnd[i] ?? start;
    const record: JournalRecord = {
      receivedAt,
      principalKind: p.principalKind[i] ?? 'device',
      principalId: p.principalId[i] ?? '',
      subtopic: p.subtopic[i] ?? '',
      qos: p.qos[i] ?? 0,
      payload: all.subarray(start, end),
    };
    start = end;
    return record;
  });
}

export type AppendRequest =
  { op: 'tx'; records: PackedRecords; removals: number[][]; deadLetters: DeadLetterRow[][]; cursors: [string, number][] } | { op: 'close' };
export type AppendReply =
  | { op: 'ready' }
  | { op: 'done'; seqs: number[]; removed: { n: number; freed: number }[]; deadLettered: { n: number; freed: number }[] }
  | { op: 'failed'; message: string }
  | { op: 'closed' };

/** The append thread is the journal's only writer while the gateway runs: appends, deletes and cursors. */
export interface JournalWriterThread extends Appender {
  /** Deletes entries (InfluxDB confirmed them) in the next transaction; resolves with what went. */
  remove(seqs: readonly number[]): Promise<{ n: number; freed: number }>;
  /** Moves entries to the dead letters in the next transaction; resolves with what left the journal. */
  deadLetter(rows: readonly DeadLetterRow[]): Promise<{ n: number; freed: number }>;
  /** Persists a cursor in the next transaction (the latest value per name wins). */
  setCursor(name: string, seq: number): void;
}

interface Removal<T> {
  items: T[];
  resolve: (r: { n: number; freed: number }) => void;
  reject: (e: unknown) => void;
}

/**
 * The append thread, the journal's single writer: SQLite allows one writer at a time, and a second
 * connection deleting or moving cursors from another thread waited in SQLite's busy handler (sleeping up
 * to 100 ms) behind the stream of appends — the ingest benchmark saw storage fall behind that way. At most
 * one transaction is outstanding; appends, deletes and cursor updates arriving meanwhile wait on this side
 * and go together in the next one, so the batch grows with the disk's latency (group commit).
 */
export async function startAppendThread(dataDir: string, logger: Logger): Promise<JournalWriterThread> {
  let worker: Worker | undefined;
  let starting: Promise<Worker> | undefined;
  let queued: Waiting[] = [];
  let removals: Removal<number>[] = [];
  let moves: Removal<DeadLetterRow>[] = [];
  let cursors = new Map<string, number>();
  let outstanding: { appends: Waiting[]; removals: Removal<number>[]; moves: Removal<DeadLetterRow>[] } | undefined;
  let closing: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  let scheduled = false;

  function fail(
    o: { appends: readonly Waiting[]; removals: readonly Removal<number>[]; moves: readonly Removal<DeadLetterRow>[] },
    message: string,
  ): void {
    const err = new Error(message);
    for (const i of o.appends) i.reject(err);
    for (const r of o.removals) r.reject(err);
    for (const m of o.moves) m.reject(err);
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
          case 'done': {
            const o = outstanding;
            outstanding = undefined;
            if (o) {
              for (const [k, i] of o.appends.entries()) i.resolve(msg.seqs[k] ?? 0);
              for (const [k, r] of o.removals.entries()) r.resolve(msg.removed[k] ?? { n: 0, freed: 0 });
              for (const [k, m] of o.moves.entries()) m.resolve(msg.deadLettered[k] ?? { n: 0, freed: 0 });
            }
            send();
            return;
          }
          case 'failed': {
            const o = outstanding;
            outstanding = undefined;
            if (o) fail(o, `journal write failed: ${msg.message}`);
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
          if (pendingWork()) void spawn().catch(() => undefined);
        } else {
          fail({ appends: queued, removals, moves }, 'journal is closed');
          queued = [];
          removals = [];
          moves = [];
          drained?.();
        }
      });
    });
    return starting;
  }

  const pendingWork = (): boolean => queued.length > 0 || removals.length > 0 || moves.length > 0 || cursors.size > 0;

  function send(): void {
    scheduled = false;
    if (outstanding) return;
    if (!pendingWork()) {
      drained?.();
      return;
    }
    if (!worker) {
      void spawn().catch(() => undefined);
      return;
    }
    outstanding = { appends: queued, removals, moves };
    const request: AppendRequest = {
      op: 'tx',
      records: packRecords(queued.map((i) => i.record)),
      removals: removals.map((r) => r.items),
      deadLetters: moves.map((m) => m.items),
      cursors: [...cursors],
    };
    queued = [];
    removals = [];
    moves = [];
    cursors = new Map();
    worker.postMessage(request);
  }

  /** Work of this event-loop turn goes together; a send now would take only the first item. */
  function schedule(): void {
    if (scheduled || outstanding) return;
    scheduled = true;
    setImmediate(send);
  }

  await spawn();

  return {
    append(record) {
      if (closing) return Promise.reject(new Error('journal is closed'));
      return new Promise((resolve, reject) => {
        queued.push({ record, resolve, reject });
        schedule();
      });
    },
    remove(seqs) {
      if (closing) return Promise.reject(new Error('journal is closed'));
      return new Promise((resolve, reject) => {
        removals.push({ items: [...seqs], resolve, reject });
        schedule();
      });
    },
    deadLetter(rows) {
      if (closing) return Promise.reject(new Error('journal is closed'));
      return new Promise((resolve, reject) => {
        moves.push({ items: [...rows], resolve, reject });
        schedule();
      });
    },
    setCursor(name, seq) {
      cursors.set(name, seq);
      schedule();
    },
    close() {
      closing ??= (async () => {
        if (outstanding || pendingWork()) {
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
