import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { createInfluxWriter, InfluxWriteError, type InfluxWriterConfig } from './influx.js';
import type { ThreadReply, ThreadRequest, ThreadSetup } from './influx-thread.js';

// The storage thread (see influx-thread.ts): the InfluxDB writer, off the main thread that acknowledges devices.

const port = parentPort;
if (!port) throw new Error('influx-thread-worker.js runs only as a worker thread');
const setup = workerData as ThreadSetup;
const logger = createLogger({ level: setup.logLevel });
const writer = await createInfluxWriter(setup.config satisfies InfluxWriterConfig, { logger });

function reply(message: ThreadReply): void {
  port?.postMessage(message);
}

port.on('message', (req: ThreadRequest) => {
  if (req.op === 'close') {
    void writer.close().finally(() => {
      reply({ op: 'closed' });
    });
    return;
  }
  // One "line" holding all of them: the client only joins its lines with newlines before sending.
  writer.write([req.body]).then(
    () => {
      reply({ op: 'written', id: req.id });
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
