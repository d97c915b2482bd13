import { parentPort, workerData } from 'node:worker_threads';
import { insertRecords, type AppendReply, type AppendRequest } from './journal-append.js';
import { openWriterConnection } from './journal.js';

// The journal append thread (see journal-append.ts): one connection with synchronous=FULL, one transaction
// per request from the main thread.

const port = parentPort;
if (!port) throw new Error('journal-append-worker.js runs only as a worker thread');
const { dataDir } = workerData as { dataDir: string };
const db = openWriterConnection(dataDir);
const insert = insertRecords(db);

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
    // Payloads arrive as Uint8Array (structured clone); better-sqlite3 binds Buffers.
    const records = req.records.map((r) => ({ ...r, payload: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength) }));
    reply({ op: 'appended', seqs: insert(records) });
  } catch (err) {
    reply({ op: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
});
reply({ op: 'ready' });
