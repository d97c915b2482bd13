import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { inlineAppender, type Appender, type JournalWriterThread } from './journal-append.js';

// The durable journal (docs/adr/006-ack-after-journal.md). Every accepted message is appended here, fsynced,
// BEFORE the device gets its PUBACK, and stays until InfluxDB has confirmed its points (or it was moved to
// the dead letters). It is also the outage buffer. Its own SQLite file with synchronous=FULL, so a commit is
// on disk when it returns; appends are group-committed (one transaction per event-loop turn).

export type PrincipalKind = 'device' | 'bridge';

export interface JournalRecord {
  readonly receivedAt: number;
  readonly principalKind: PrincipalKind;
  readonly principalId: string;
  /** `up` for devices; the topic below the bridge's base topic for bridges. */
  readonly subtopic: string;
  readonly qos: number;
  readonly payload: Buffer;
}

export interface JournalEntry extends JournalRecord {
  readonly seq: number;
}

export interface DeadLetterInput {
  readonly reason: string;
  readonly issues: unknown;
  readonly adapterId: string | null;
  readonly adapterVersion: number | null;
}

export interface Journal {
  append(record: JournalRecord): Promise<number>;
  /** Entries with seq > after, in order. */
  readAfter(after: number, limit: number): JournalEntry[];
  /** Seqs in (after, upTo], in order, without reading payloads. */
  seqsBetween(after: number, upTo: number, limit: number): number[];
  get(seq: number): JournalEntry | undefined;
  /** Removes entries whose points InfluxDB confirmed. */
  remove(seqs: readonly number[]): void;
  /** Moves entries to the dead letters, all in one transaction. */
  deadLetter(items: readonly { entry: JournalEntry; dl: DeadLetterInput }[]): void;
  /**
   * Deletes the oldest entries with seq ≤ `upTo` that `isTelemetry` accepts until `bytes` is at most `target`;
   * returns how many were dropped. Anything else (doses, doors, alarms, entries not yet decoded) is kept.
   */
  dropOldestTelemetry(target: number, upTo: number, isTelemetry: (entry: JournalEntry) => boolean): number;
  bytes(): number;
  count(): number;
  /**
   * Adds rows and bytes written to the journal by another connection (a dead-letter replay): `bytes()` and
   * `count()` follow this process's own writes, and removing uncounted entries would leave them low.
   */
  adopt(rows: number, bytes: number): void;
  /** Persisted cursor of the rule-engine pass, so events are not re-emitted after a restart. */
  getCursor(name: string): number;
  setCursor(name: string, seq: number): void;
  readonly db: BetterSqlite3.Database;
  close(): void;
}

const MIGRATION = `
CREATE TABLE IF NOT EXISTS journal (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at    INTEGER NOT NULL,
  principal_kind TEXT    NOT NULL,
  principal_id   TEXT    NOT NULL,
  subtopic       TEXT    NOT NULL,
  qos            INTEGER NOT NULL,
  payload        BLOB    NOT NULL
) STRICT;
-- Until 2026-11-23 every entry's class (telemetry or not) was stored in a priority column with an index,
-- an UPDATE per message; the class is now decided by decoding, and only when the journal is over its cap.
-- Journals created before keep the column (it has a default); the index is dropped.
DROP INDEX IF EXISTS journal_priority;
CREATE TABLE IF NOT EXISTS dead_letters (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  journal_seq     INTEGER NOT NULL,
  received_at     INTEGER NOT NULL,
  principal_kind  TEXT    NOT NULL,
  principal_id    TEXT    NOT NULL,
  subtopic        TEXT    NOT NULL,
  qos             INTEGER NOT NULL,
  reason          TEXT    NOT NULL,
  issues          TEXT    NOT NULL,
  adapter_id      TEXT,
  adapter_version INTEGER,
  payload         BLOB    NOT NULL,
  payload_bytes   INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  replayed_at     INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS dead_letters_device ON dead_letters(principal_id, id);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
`;

/** Raw bytes kept with a dead letter; the full size is recorded next to it. */
export const DEAD_LETTER_MAX_BYTES = 64 * 1024;

export function journalPath(dataDir: string): string {
  return join(dataDir, 'journal.sqlite');
}

interface Row {
  seq: number;
  received_at: number;
  principal_kind: PrincipalKind;
  principal_id: string;
  subtopic: string;
  qos: number;
  payload: Buffer;
}

const toEntry = (r: Row): JournalEntry => ({
  seq: r.seq,
  receivedAt: r.received_at,
  principalKind: r.principal_kind,
  principalId: r.principal_id,
  subtopic: r.subtopic,
  qos: r.qos,
  payload: r.payload,
});

/**
 * Deletes journal entries by seq on `conn` in one transaction, returning how many rows and payload bytes went.
 * Confirmed batches are runs of consecutive seqs: one range DELETE per run instead of one per entry (the
 * per-entry form cost ~6 µs a message in the ingest benchmark's profile). Shared with the storage thread,
 * which deletes on its own connection.
 */
export function journalRemover(conn: BetterSqlite3.Database): (seqs: readonly number[]) => { n: number; freed: number } {
  const deleteRange = conn.prepare('DELETE FROM journal WHERE seq BETWEEN ? AND ? RETURNING length(payload)').pluck();
  return conn.transaction((seqs: readonly number[]) => {
    let freed = 0;
    let n = 0;
    const sorted = [...seqs].sort((a, b) => a - b);
    let i = 0;
    while (i < sorted.length) {
      const from = sorted[i] ?? 0;
      let to = from;
      while (i + 1 < sorted.length && sorted[i + 1] === to + 1) to = sorted[++i] ?? to;
      i += 1;
      for (const len of deleteRange.all(from, to) as number[]) {
        freed += len;
        n += 1;
      }
    }
    return { freed, n };
  });
}

/** A dead letter as stored: plain values, so it can cross to the writer thread. */
export interface DeadLetterRow {
  seq: number;
  receivedAt: number;
  principalKind: PrincipalKind;
  principalId: string;
  subtopic: string;
  qos: number;
  reason: string;
  /** JSON of the adapter's issues. */
  issues: string;
  adapterId: string | null;
  adapterVersion: number | null;
  /** The first DEAD_LETTER_MAX_BYTES of the payload. */
  payload: Uint8Array;
  payloadBytes: number;
  createdAt: number;
}

export function deadLetterRow(e: JournalEntry, dl: DeadLetterInput, createdAt: number): DeadLetterRow {
  return {
    seq: e.seq,
    receivedAt: e.receivedAt,
    principalKind: e.principalKind,
    principalId: e.principalId,
    subtopic: e.subtopic,
    qos: e.qos,
    reason: dl.reason,
    issues: JSON.stringify(dl.issues ?? []),
    adapterId: dl.adapterId,
    adapterVersion: dl.adapterVersion,
    payload: e.payload.subarray(0, DEAD_LETTER_MAX_BYTES),
    payloadBytes: e.payload.length,
    createdAt,
  };
}

/** Moves entries to the dead letters on `conn`, in one transaction; returns the journal rows and bytes freed. */
export function deadLetterMover(conn: BetterSqlite3.Database): (rows: readonly DeadLetterRow[]) => { n: number; freed: number } {
  const insertDead = conn.prepare(
    `INSERT INTO dead_letters (journal_seq, received_at, principal_kind, principal_id, subtopic, qos, reason, issues, adapter_id,
       adapter_version, payload, payload_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const deleteStmt = conn.prepare('DELETE FROM journal WHERE seq = ?');
  return conn.transaction((rows: readonly DeadLetterRow[]) => {
    let n = 0;
    let freed = 0;
    for (const r of rows) {
      const payload = Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
      insertDead.run(
        r.seq,
        r.receivedAt,
        r.principalKind,
        r.principalId,
        r.subtopic,
        r.qos,
        r.reason,
        r.issues,
        r.adapterId,
        r.adapterVersion,
        payload,
        r.payloadBytes,
        r.createdAt,
      );
      if (deleteStmt.run(r.seq).changes > 0) {
        n += 1;
        freed += r.payloadBytes;
      }
    }
    return { n, freed };
  });
}

/** A connection for bookkeeping: no fsync per commit (see openJournal). */
export function openMaintenanceConnection(dataDir: string): BetterSqlite3.Database {
  const conn = new BetterSqlite3(journalPath(dataDir));
  conn.pragma('synchronous = NORMAL');
  conn.pragma('busy_timeout = 5000');
  return conn;
}

/** The connection appends go through (and the schema is created on): the journal file, migrated. */
export function openWriterConnection(dataDir: string): BetterSqlite3.Database {
  mkdirSync(dataDir, { recursive: true });
  const db = new BetterSqlite3(journalPath(dataDir));
  db.pragma('journal_mode = WAL');
  // FULL: the WAL is fsynced at every commit — the PUBACK promise depends on it.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(MIGRATION);
  return db;
}

export interface JournalOptions {
  now?: () => number;
  /**
   * The append thread (journal-append.ts): appends, deletes and cursor updates go through it, the journal's
   * single writer. Without it everything is written on this thread (tools, tests of the journal itself).
   */
  writer?: JournalWriterThread;
}

export function openJournal(dataDir: string, opts: JournalOptions = {}): Journal {
  const now = opts.now ?? Date.now;
  const db = openWriterConnection(dataDir);
  // Bookkeeping (deletes after InfluxDB confirmed, priorities, cursors, dead-letter moves) goes through a
  // second connection without an fsync per commit: losing its last commits in a power cut only means work
  // is redone (entries written again, events emitted again, messages dead-lettered again), all idempotent.
  // The WAL is one append-only log, so the next fsync of an append covers these frames too.
  const maint = openMaintenanceConnection(dataDir);

  const readAfterStmt = db.prepare(
    'SELECT seq, received_at, principal_kind, principal_id, subtopic, qos, payload FROM journal WHERE seq > ? ORDER BY seq LIMIT ?',
  );
  const seqsStmt = db.prepare('SELECT seq FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?').pluck();
  const readRangeStmt = db.prepare(
    'SELECT seq, received_at, principal_kind, principal_id, subtopic, qos, payload FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
  );
  const getStmt = db.prepare('SELECT seq, received_at, principal_kind, principal_id, subtopic, qos, payload FROM journal WHERE seq = ?');
  const moveDead = deadLetterMover(maint);
  const getCursorStmt = db.prepare('SELECT seq FROM cursors WHERE name = ?');
  const setCursorStmt = maint.prepare('INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq');

  const totals = db
    .prepare<[], { n: number; b: number }>('SELECT count(*) AS n, coalesce(sum(length(payload)), 0) AS b FROM journal')
    .get() ?? {
    n: 0,
    b: 0,
  };
  let rows = totals.n;
  let bytes = totals.b;

  const writer = opts.writer;
  const inline = writer ? undefined : inlineAppender(db);
  const appender: Appender = writer ?? (inline as Appender);

  const removeRuns = journalRemover(maint);

  return {
    db,
    append(record) {
      return appender.append(record).then((seq) => {
        rows += 1;
        bytes += record.payload.length;
        return seq;
      });
    },
    readAfter(after, limit) {
      return (readAfterStmt.all(after, limit) as Row[]).map(toEntry);
    },
    seqsBetween(after, upTo, limit) {
      return seqsStmt.all(after, upTo, limit) as number[];
    },
    get(seq) {
      const row = getStmt.get(seq) as Row | undefined;
      return row && toEntry(row);
    },
    remove(seqs) {
      if (seqs.length === 0) return;
      if (writer) {
        // Counted when the writer reports it; should it fail, the entries stay and are written again later.
        writer.remove(seqs).then(
          ({ n, freed }) => {
            rows -= n;
            bytes -= freed;
          },
          () => undefined,
        );
        return;
      }
      const { freed, n } = removeRuns(seqs);
      rows -= n;
      bytes -= freed;
    },
    deadLetter(items) {
      if (items.length === 0) return;
      const rowsToMove = items.map(({ entry: e, dl }) => deadLetterRow(e, dl, now()));
      if (writer) {
        writer.deadLetter(rowsToMove).then(
          ({ n, freed }) => {
            rows -= n;
            bytes -= freed;
          },
          () => undefined, // the entries stay in the journal; the rules pass will not see them again until a restart
        );
        return;
      }
      const { n, freed } = moveDead(rowsToMove);
      rows -= n;
      bytes -= freed;
    },
    dropOldestTelemetry(target, upTo, isTelemetry) {
      let dropped = 0;
      let after = 0;
      while (bytes > target) {
        const entries = (readRangeStmt.all(after, upTo, 500) as Row[]).map(toEntry);
        if (entries.length === 0) break;
        const chosen: number[] = [];
        let projected = bytes;
        for (const e of entries) {
          after = e.seq;
          if (projected <= target) break;
          if (!isTelemetry(e)) continue;
          chosen.push(e.seq);
          projected -= e.payload.length;
        }
        const { freed, n } = removeRuns(chosen);
        rows -= n;
        bytes -= freed;
        dropped += n;
      }
      return dropped;
    },
    bytes: () => bytes,
    count: () => rows,
    adopt(n, b) {
      rows += n;
      bytes += b;
    },
    getCursor(name) {
      return (getCursorStmt.get(name) as { seq: number } | undefined)?.seq ?? 0;
    },
    setCursor(name, seq) {
      if (writer) writer.setCursor(name, seq);
      else setCursorStmt.run(name, seq);
    },
    close() {
      // An append thread is closed by its owner (asynchronously) before this.
      inline?.flushNow();
      maint.close();
      db.close();
    },
  };
}
