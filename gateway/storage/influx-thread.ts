import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { workerScript } from '../process/worker-script.js';
import type { StorageSink } from '../ingest/pipeline.js';
import { InfluxWriteError, type InfluxWriteErrorReason, type InfluxWriterConfig } from './influx.js';

// The storage thread: a worker thread that owns the InfluxDB writer (the official client, its HTTP requests
// and their responses). Batching, retries, backoff and the journal deletes after a confirmed write stay in
// the pipeline. Why: the ingest benchmark found the gateway bound by its main thread with the second core
// partly idle, and the InfluxDB client was ~6 % of that thread (BENCHMARKS.md, ingest; docs/adr/007).

export interface ThreadSetup {
  config: InfluxWriterConfig;
  logLevel: string;
}
/** `body`: the lines joined by newlines — one string crosses the thread boundary far cheaper than an array. */
export type ThreadRequest = { op: 'write'; id: number; body: string } | { op: 'close' };
export type ThreadReply =
  | { op: 'ready' }
  | { op: 'written'; id: number }
  | { op: 'failed'; id: number; message: string; retryable: boolean; reason: InfluxWriteErrorReason; status?: number }
  | { op: 'closed' };

export interface InfluxThread extends StorageSink {
  close(): Promise<void>;
}

interface Pending {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export async function startInfluxThread(config: InfluxWriterConfig, opts: { logger: Logger }): Promise<InfluxThread> {
  const setup: ThreadSetup = { config, logLevel: opts.logger.level };
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closing: Promise<void> | undefined;
  let worker: Worker | undefined;
  let ready: Promise<Worker> | undefined;

  function failAll(message: string): void {
    for (const p of pending.values()) p.reject(new InfluxWriteError(message, { retryable: true, reason: 'unreachable' }));
    pending.clear();
  }

  /** Starts the worker; after a crash the next write starts a new one (the pipeline retries what failed). */
  function spawn(): Promise<Worker> {
    ready ??= new Promise<Worker>((resolve, reject) => {
      const w = new Worker(workerScript(import.meta.url, 'gateway/storage/influx-thread-worker'), { workerData: setup });
      w.on('message', (msg: ThreadReply) => {
        switch (msg.op) {
          case 'ready':
            worker = w;
            resolve(w);
            return;
          case 'closed':
            return;
          case 'written': {
            const p = pending.get(msg.id);
            pending.delete(msg.id);
            p?.resolve();
            return;
          }
          case 'failed': {
            const p = pending.get(msg.id);
            pending.delete(msg.id);
            p?.reject(
              new InfluxWriteError(msg.message, {
                retryable: msg.retryable,
                reason: msg.reason,
                ...(msg.status !== undefined ? { status: msg.status } : {}),
              }),
            );
            return;
          }
        }
      });
      w.on('error', (err) => {
        opts.logger.error({ event: 'gateway.storage_thread', state: 'crashed', err }, 'storage thread failed; it is restarted');
        reject(err);
      });
      w.on('exit', (code) => {
        worker = undefined;
        ready = undefined;
        if (closing === undefined) {
          opts.logger.error({ event: 'gateway.storage_thread', state: 'exited', code }, 'storage thread exited');
          reject(new Error(`storage thread exited with code ${code}`));
        }
        failAll('the storage thread stopped; the journal keeps the data');
      });
    });
    return ready;
  }

  await spawn();

  async function send(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    if (closing) throw new InfluxWriteError('storage is closing', { retryable: true, reason: 'closed' });
    const w = worker ?? (await spawn());
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage({ op: 'write', id, body: lines.join('\n') } satisfies ThreadRequest);
    });
  }

  return {
    write: send,
    close() {
      closing ??= (async () => {
        const w = worker;
        if (!w) return;
        await new Promise<void>((resolve) => {
          w.once('exit', () => {
            resolve();
          });
          w.postMessage({ op: 'close' } satisfies ThreadRequest);
          // The worker ends once its writer has finished the requests in flight and nothing else holds it.
          w.on('message', (m: ThreadReply) => {
            if (m.op === 'closed') void w.terminate();
          });
        });
      })();
      return closing;
    },
  };
}
