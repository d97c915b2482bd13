import { parentPort, workerData } from 'node:worker_threads';
import { journalRemover, openMaintenanceConnection } from '../ingest/journal.js';
import { createLogger } from '../log.js';
import { createInfluxWriter, InfluxWriteError, type InfluxWriterConfig } from './influx.js';
import type { ThreadReply, ThreadRequest, ThreadSetup } from './influx-thread.js';

// The storage thread (see influx-thread.ts): the InfluxDB writer and the journal deletes after a confirmed
// write, off the main thread that acknowledges devices.

const port = parentPort;
if (!port) throw new Error('influx-thread-worker.js runs only as a worker thread');
const setup = workerData as ThreadSetup;
const logger = createLogger({ level: setup.logLevel });
const writer = await createInfluxWriter(setup.config satisfies InfluxWriterConfig, { logger });
const conn = openMaintenanceConnection(setup.dataDir);
const remove = journalRemover(conn);

function reply(message: ThreadReply): void {
  port?.postMessage(message);
}

port.on('message', (req: ThreadRequest) => {
  if (req.op === 'close') {
    void writer.close().finally(() => {
      conn.close();
      reply({ op: 'closed' });
    });
    return;
  }
  writer.write(req.lines).then(
    () => {
      // Only after InfluxDB confirmed: the entries may leave the journal (docs/adr/006). Should the delete
      // fail, the batch is reported failed and written again: writes are idempotent.
      let removed: { n: number; freed: number };
      try {
        removed = req.seqs.length > 0 ? remove(req.seqs) : { n: 0, freed: 0 };
      } catch (err) {
        reply({ op: 'failed', id: req.id, message: `journal delete failed: ${String(err)}`, retryable: true, reason: 'unreachable' });
        return;
      }
      reply({ op: 'written', id: req.id, removed: removed.n, freed: removed.freed });
    },
    (err: unknown) => {
      const e = err instanceof InfluxWriteError ? err : undefined;
      reply({
        op: 'failed',
        id: req.id,
        message: err instanceof Error ? err.message : String(err),
        retryable: e?.retryable ?? true,
        reason: e?.reason ?? 'unreachable',
        ...(e?.status !== undefined ? { status: e.status } : {}),
      });
    },
  );
});
reply({ op: 'ready' });
