import { parentPort, workerData } from 'node:worker_threads';
import { insertRecords, unpackRecords, type AppendReply, type AppendRequest } from './journal-append.js';
import { deadLetterMover, journalRemover, openWriterConnection } from './journal.js';

// The journal append thread (see journal-append.ts): one connection with synchronous=FULL, one transaction
// per request from the main thread.

const port = parentPort;
if (!port) throw new Error('journal-append-worker.js runs only as a worker thread');
const { dataDir } = workerData as { dataDir: string };
const db = openWriterConnection(dataDir);
const insert = insertRecords(db);
const remove = journalRemover(db);
const moveDead = deadLetterMover(db);
const setCursor = db.prepare('INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq');
// One transaction (one fsync) for everything the main thread queued since the last one. better-sqlite3's
// nested transaction() calls become savepoints inside it.
const apply = db.transaction((req: Extract<AppendRequest, { op: 'tx' }>) => {
  const seqs = insert(unpackRecords(req.records));
  const removed = req.removals.map((seqs) => remove(seqs));
  const deadLettered = req.deadLetters.map((rows) => moveDead(rows));
  for (const [name, seq] of req.cursors) setCursor.run(name, seq);
  return { seqs, removed, deadLettered };
});

function reply(m: AppendReply): void {
  port?.postMessage(m);
}

port.on('message', (req: AppendRequest) => {
  if (req.op === 'close') {
    db.close();
    reply({ op: 'closed' });
    port.close();
    return;
  }
  try {
    const { seqs, removed, deadLettered } = apply(req);
    reply({ op: 'done', seqs, removed, deadLettered });
  } catch (err) {
    reply({ op: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
});
reply({ op: 'ready' });
