import type { Journal } from './journal.js';

// Dead letters: messages that could not be decoded or stored, kept with the reason, the adapter's issues, the
// adapter version and the raw bytes (bounded), so a technician can see what a device sent and replay it
// after the adapter (or the registry) is fixed. Replay puts the message back into the journal with its
// original receive time, so its events get the same ids as they would have had.

export interface DeadLetter {
  id: number;
  journalSeq: number;
  receivedAt: string;
  principalKind: string;
  deviceId: string;
  subtopic: string;
  reason: string;
  issues: unknown;
  adapterId: string | null;
  adapterVersion: number | null;
  payloadBytes: number;
  /** True when only the first DEAD_LETTER_MAX_BYTES were kept. */
  truncated: boolean;
  createdAt: string;
  replayedAt: string | null;
}

interface Row {
  id: number;
  journal_seq: number;
  received_at: number;
  principal_kind: string;
  principal_id: string;
  subtopic: string;
  qos: number;
  reason: string;
  issues: string;
  adapter_id: string | null;
  adapter_version: number | null;
  payload: Buffer;
  payload_bytes: number;
  created_at: number;
  replayed_at: number | null;
}

const toDeadLetter = (r: Row): DeadLetter => ({
  id: r.id,
  journalSeq: r.journal_seq,
  receivedAt: new Date(r.received_at).toISOString(),
  principalKind: r.principal_kind,
  deviceId: r.principal_id,
  subtopic: r.subtopic,
  reason: r.reason,
  issues: JSON.parse(r.issues) as unknown,
  adapterId: r.adapter_id,
  adapterVersion: r.adapter_version,
  payloadBytes: r.payload_bytes,
  truncated: r.payload.length < r.payload_bytes,
  createdAt: new Date(r.created_at).toISOString(),
  replayedAt: r.replayed_at === null ? null : new Date(r.replayed_at).toISOString(),
});

export interface DeadLetterFilter {
  deviceId?: string | undefined;
  reason?: string | undefined;
  /** Include dead letters that were replayed already. */
  includeReplayed?: boolean | undefined;
  limit?: number | undefined;
}

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
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', args };
  };
  const getStmt = db.prepare('SELECT * FROM dead_letters WHERE id = ?');
  const reinsert = db.prepare(
    'INSERT INTO journal (received_at, principal_kind, principal_id, subtopic, qos, payload) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const markReplayed = db.prepare('UPDATE dead_letters SET replayed_at = ? WHERE id = ?');

  return {
    list(filter: DeadLetterFilter = {}): DeadLetter[] {
      const w = where(filter);
      const rows = db.prepare(`SELECT * FROM dead_letters ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.args, filter.limit ?? 100) as Row[];
      return rows.map(toDeadLetter);
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
      const skipped: { id: number; why: string }[] = [];
      for (const id of ids) {
        const row = getStmt.get(id) as Row | undefined;
        if (!row) skipped.push({ id, why: 'no such dead letter' });
        else if (row.replayed_at !== null) skipped.push({ id, why: 'already replayed' });
        else if (row.payload.length < row.payload_bytes) skipped.push({ id, why: 'payload was truncated when stored' });
        else {
          reinsert.run(row.received_at, row.principal_kind, row.principal_id, row.subtopic, row.qos, row.payload);
          markReplayed.run(now(), id);
          replayed.push(id);
        }
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
