import type BetterSqlite3 from 'better-sqlite3';
import type { Journal } from './journal.js';

// Dead letters: messages that could not be decoded or stored, kept with the reason, the adapter's issues, the
// adapter version and the raw bytes (bounded), so a technician can see what a device sent and replay it
// after the adapter (or the registry) is fixed. Replay puts the message back into the journal with its
// original receive time, so its events get the same ids as they would have had.

/** A dead letter as a list shows it: without its issues and payload, which only `get` reads. */
export interface DeadLetterSummary {
  id: number;
  journalSeq: number;
  receivedAt: string;
  principalKind: string;
  deviceId: string;
  subtopic: string;
  reason: string;
  adapterId: string | null;
  adapterVersion: number | null;
  payloadBytes: number;
  /** True when only the first DEAD_LETTER_MAX_BYTES were kept. */
  truncated: boolean;
  createdAt: string;
  replayedAt: string | null;
}

export interface DeadLetter extends DeadLetterSummary {
  issues: unknown;
}

interface SummaryRow {
  id: number;
  journal_seq: number;
  received_at: number;
  principal_kind: string;
  principal_id: string;
  subtopic: string;
  reason: string;
  adapter_id: string | null;
  adapter_version: number | null;
  payload_bytes: number;
  /** Bytes kept (payload_bytes is the size received). */
  stored_bytes: number;
  created_at: number;
  replayed_at: number | null;
}

interface Row extends Omit<SummaryRow, 'stored_bytes'> {
  qos: number;
  issues: string;
  payload: Buffer;
}

// A list reads neither the payloads (up to 64 KiB each) nor the issues: length() of a blob column is read from
// the record's header, without loading the blob. It runs on the gateway's main thread, the broker's too.
const SUMMARY_COLUMNS = `id, journal_seq, received_at, principal_kind, principal_id, subtopic, reason, adapter_id, adapter_version,
  payload_bytes, length(payload) AS stored_bytes, created_at, replayed_at`;

const toSummary = (r: SummaryRow): DeadLetterSummary => ({
  id: r.id,
  journalSeq: r.journal_seq,
  receivedAt: new Date(r.received_at).toISOString(),
  principalKind: r.principal_kind,
  deviceId: r.principal_id,
  subtopic: r.subtopic,
  reason: r.reason,
  adapterId: r.adapter_id,
  adapterVersion: r.adapter_version,
  payloadBytes: r.payload_bytes,
  truncated: r.stored_bytes < r.payload_bytes,
  createdAt: new Date(r.created_at).toISOString(),
  replayedAt: r.replayed_at === null ? null : new Date(r.replayed_at).toISOString(),
});

const toDeadLetter = (r: Row): DeadLetter => ({
  ...toSummary({ ...r, stored_bytes: r.payload.length }),
  issues: JSON.parse(r.issues) as unknown,
});

export interface DeadLetterFilter {
  deviceId?: string | undefined;
  reason?: string | undefined;
  /** Include dead letters that were replayed already. */
  includeReplayed?: boolean | undefined;
  /** Only dead letters with a smaller id (older): the cursor for the next page of a newest-first list. */
  before?: number | undefined;
  limit?: number | undefined;
}

/**
 * Running totals in the journal's cursors table of the rows and bytes every replay put back: the running
 * gateway's ingest adds what they moved by to its journal counts (which follow its own writes only) and picks
 * the entries up. Totals, not a flag, so the counts stay exact whatever the order of replay and removal.
 */
export const REPLAYED_ROWS = 'replayed_rows';
export const REPLAYED_BYTES = 'replayed_bytes';

export function createDeadLetters(journal: Journal, now: () => number = Date.now) {
  const { db } = journal;
  const where = (f: DeadLetterFilter): { sql: string; args: unknown[] } => {
    const clauses: string[] = [];
    const args: unknown[] = [];
    if (f.deviceId !== undefined) {
      clauses.push('principal_id = ?');
      args.push(f.deviceId);
    }
    if (f.reason !== undefined) {
      clauses.push('reason = ?');
      args.push(f.reason);
    }
    if (f.includeReplayed !== true) clauses.push('replayed_at IS NULL');
    if (f.before !== undefined) {
      clauses.push('id < ?');
      args.push(f.before);
    }
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', args };
  };
  const getStmt = db.prepare('SELECT * FROM dead_letters WHERE id = ?');
  const reinsert = db.prepare(
    'INSERT INTO journal (received_at, principal_kind, principal_id, subtopic, qos, payload) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const markReplayed = db.prepare('UPDATE dead_letters SET replayed_at = ? WHERE id = ?');
  // Tells a running gateway, whichever process replayed, how much the journal grew behind its back (REPLAYED_*).
  const addToCounter = db.prepare(
    'INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = seq + excluded.seq',
  );
  // One statement per combination of filters (at most 16), prepared once: a list can run several per request.
  const listStmts = new Map<string, BetterSqlite3.Statement<unknown[], SummaryRow>>();
  const listStmt = (sql: string) => {
    let stmt = listStmts.get(sql);
    if (stmt === undefined) {
      stmt = db.prepare<unknown[], SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM dead_letters ${sql} ORDER BY id DESC LIMIT ?`);
      listStmts.set(sql, stmt);
    }
    return stmt;
  };

  return {
    /** Newest first, without issues and payloads (`get` has them). */
    list(filter: DeadLetterFilter = {}): DeadLetterSummary[] {
      const w = where(filter);
      return listStmt(w.sql)
        .all(...w.args, filter.limit ?? 100)
        .map(toSummary);
    },
    /** Counts per device and reason (not replayed), for technicians and metrics. */
    counts(): { deviceId: string; reason: string; count: number }[] {
      return db
        .prepare(
          'SELECT principal_id AS deviceId, reason, count(*) AS count FROM dead_letters WHERE replayed_at IS NULL GROUP BY 1, 2 ORDER BY 3 DESC',
        )
        .all() as { deviceId: string; reason: string; count: number }[];
    },
    get(id: number): (DeadLetter & { payload: Buffer }) | undefined {
      const row = getStmt.get(id) as Row | undefined;
      return row ? { ...toDeadLetter(row), payload: row.payload } : undefined;
    },
    /**
     * Puts dead letters back into the journal; the gateway picks them up within a second. Truncated ones are
     * refused (their bytes are incomplete). Returns the ids replayed and the ids skipped with why.
     */
    replay: db.transaction((ids: readonly number[]) => {
      const replayed: number[] = [];
      let bytes = 0;
      const skipped: { id: number; why: string }[] = [];
      for (const id of ids) {
        const row = getStmt.get(id) as Row | undefined;
        if (!row) skipped.push({ id, why: 'no such dead letter' });
        else if (row.replayed_at !== null) skipped.push({ id, why: 'already replayed' });
        else if (row.payload.length < row.payload_bytes) skipped.push({ id, why: 'payload was truncated when stored' });
        else {
          reinsert.run(row.received_at, row.principal_kind, row.principal_id, row.subtopic, row.qos, row.payload);
          bytes += row.payload.length;
          markReplayed.run(now(), id);
          replayed.push(id);
        }
      }
      if (replayed.length > 0) {
        addToCounter.run(REPLAYED_ROWS, replayed.length);
        addToCounter.run(REPLAYED_BYTES, bytes);
      }
      return { replayed, skipped };
    }),
    ids(filter: DeadLetterFilter): number[] {
      const w = where(filter);
      return (db.prepare(`SELECT id FROM dead_letters ${w.sql} ORDER BY id`).all(...w.args) as { id: number }[]).map((r) => r.id);
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
