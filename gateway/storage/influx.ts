import http from 'node:http';
import https from 'node:https';
import { AbortError, HttpError, InfluxDB, RequestTimedOutError, type WriteOptions } from '@influxdata/influxdb-client';
import type { Logger } from '../log.js';
import {
  apiVersionFor,
  createWriteTransport,
  pingInflux,
  queryAuthorization,
  trimSlash,
  writeCredentials,
  type InfluxApiVersion,
  type InfluxConfig,
} from './influx-transport.js';
import { quoteIdent, runInfluxQL } from './influxql.js';

// The InfluxDB write path (docs/adr/005-influxdb-storage.md). The caller — the ingest journal — owns
// batching, retries with backoff and durability; this module only answers "did InfluxDB confirm exactly
// these lines?". So the client is configured never to batch, retry, buffer or log on its own.
//
// Verified in @influxdata/influxdb-client 1.35.0's source (src/impl/WriteApiImpl.ts):
// - `WriteBuffer.add()` sends a batch fire-and-forget when `batchSize` lines or `maxBatchBytes` bytes are
//   reached; `flush()`/`close()` only await the remainder. Hence a WriteApi per request with
//   batchSize > lines and maxBatchBytes = ∞: the one send is the one `close()` awaits.
// - `sendBatch()` resolves on the transport's `complete` for 204/201 (or an unknown status) and otherwise
//   calls `writeFailed`; when that returns a promise, the promise IS the result: no retry buffer, no Log.
// - `flushInterval: 0` schedules no timer; `maxRetries: 0` never touches the retry buffer. `maxRetryTime`
//   must stay > 0 (an expiry at "now" fails the first attempt with "Max retry time exceeded").
// - The Node transport's `timeout` is a socket idle timeout that reports RequestTimedOutError but leaves
//   the request open, so a request deadline (AbortSignal) is added and destroys the socket.
//
// The v1/v2 choice, auth and that deadline are influx-transport.ts; this file is the writer and its errors.

// Re-exported for the tests of the v1 mapping and of version detection, which import them from here.
export { apiVersionFor, v2WritePathToV1 } from './influx-transport.js';

export type InfluxWriterConfig = InfluxConfig & { url: string };

export type InfluxWriteErrorReason =
  /** 400/422: a field already exists with another type. */
  | 'field_type_conflict'
  /** 400: InfluxDB could not parse a line. */
  | 'parse_error'
  /** 413: the request body is larger than the server accepts; write fewer lines at once. */
  | 'too_large'
  /** any other 4xx refusal of the data. */
  | 'rejected'
  /** 401/403: credentials. Not the data's fault: retryable, the journal keeps the data. */
  | 'unauthorized'
  /** 404: database, retention policy, bucket or org missing. Not the data's fault: retryable. */
  | 'not_found'
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'unreachable'
  | 'closed';

export class InfluxWriteError extends Error {
  override readonly name = 'InfluxWriteError';
  readonly code = 'TRY_ERR_INFLUX_WRITE';
  readonly retryable: boolean;
  readonly reason: InfluxWriteErrorReason;
  readonly status?: number;
  /** Points InfluxDB reports it dropped (`dropped=N` in a 1.x partial write); the others were stored. */
  readonly dropped?: number;

  constructor(
    message: string,
    opts: { retryable: boolean; reason: InfluxWriteErrorReason; status?: number; dropped?: number; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.retryable = opts.retryable;
    this.reason = opts.reason;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.dropped !== undefined) this.dropped = opts.dropped;
  }
}

export interface InfluxPing {
  ok: boolean;
  /** The server's `X-Influxdb-Version` header, e.g. `1.6.7~rc0`, `v2.7.4`. */
  version?: string;
  apiVersion: InfluxApiVersion;
}

export interface InfluxWriter {
  /** Resolves only after InfluxDB answered 2xx for exactly these lines; rejects with InfluxWriteError. */
  write(lines: readonly string[]): Promise<void>;
  ping(): Promise<InfluxPing>;
  /** v1: `CREATE DATABASE` (idempotent; throws InfluxQueryError). v2: nothing — buckets are provisioned by the operator. */
  ensureDatabase(): Promise<void>;
  /** Stops accepting writes, rejects queued ones (retryable), waits for those in flight. */
  close(): Promise<void>;
  /** Write requests in flight and queued behind `maxInFlight` (for metrics and tests). */
  load(): { inFlight: number; queued: number };
}

export interface InfluxDeps {
  logger: Logger;
}

// ── Errors ──────────────────────────────────────────────────────────────────────────────────────────────

/** InfluxDB's error text without the offending line's content (it may carry health data). */
function serverMessage(err: HttpError): string {
  const json = err.json as { error?: unknown; message?: unknown } | undefined;
  const raw =
    typeof json?.error === 'string' ? json.error : typeof json?.message === 'string' ? json.message : (err.body ?? err.statusMessage ?? '');
  return raw
    .split('\n')
    .map((l) => l.replace(/unable to parse '([^ ,]*)(?:[ ,].*)?': /, (_m, measurement: string) => `unable to parse '${measurement} …': `))
    .join('\n')
    .slice(0, 1000);
}

export function toWriteError(err: unknown, timeoutMs: number): InfluxWriteError {
  if (err instanceof InfluxWriteError) return err;
  if (err instanceof HttpError) {
    const status = err.statusCode;
    const text = serverMessage(err);
    const droppedMatch = /dropped=(\d+)/.exec(text);
    const dropped = droppedMatch ? Number(droppedMatch[1]) : undefined;
    let reason: InfluxWriteErrorReason;
    let retryable: boolean;
    if (status === 429) [reason, retryable] = ['rate_limited', true];
    else if (status === 408) [reason, retryable] = ['timeout', true];
    else if (status >= 500) [reason, retryable] = ['server_error', true];
    else if (status === 401 || status === 403) [reason, retryable] = ['unauthorized', true];
    else if (status === 404) [reason, retryable] = ['not_found', true];
    else if (/field type conflict/i.test(text)) [reason, retryable] = ['field_type_conflict', false];
    else if (/unable to parse|parse error|invalid field format|bad timestamp|invalid (?:number|boolean)/i.test(text))
      [reason, retryable] = ['parse_error', false];
    else if (status === 413) [reason, retryable] = ['too_large', false];
    else [reason, retryable] = ['rejected', false];
    const message = `InfluxDB answered ${status} (${reason}, ${retryable ? 'retryable' : 'not retryable'}): ${text}`;
    return new InfluxWriteError(message, { retryable, reason, status, cause: err, ...(dropped === undefined ? {} : { dropped }) });
  }
  if (err instanceof RequestTimedOutError || err instanceof AbortError) {
    return new InfluxWriteError(`InfluxDB did not answer within ${timeoutMs} ms (retryable)`, {
      retryable: true,
      reason: 'timeout',
      cause: err,
    });
  }
  // ECONNREFUSED, ECONNRESET, EHOSTUNREACH… and anything else from the transport (a TLS failure, a socket
  // error without a code): an outage. Retrying is safe (writes are idempotent); the journal keeps the data.
  const code = (err as { code?: unknown } | null)?.code;
  const what = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  return new InfluxWriteError(`InfluxDB unreachable: ${what} (retryable)`, { retryable: true, reason: 'unreachable', cause: err });
}

// ── Writer ──────────────────────────────────────────────────────────────────────────────────────────────

interface Session {
  readonly apiVersion: InfluxApiVersion;
  readonly client: InfluxDB;
  readonly org: string;
  readonly bucket: string;
}

export async function createInfluxWriter(config: InfluxWriterConfig, deps: InfluxDeps): Promise<InfluxWriter> {
  const url = trimSlash(config.url);
  const log = deps.logger.child({ component: 'influx' });
  const agent = url.startsWith('https:') ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  let session: Session | undefined;
  let detecting: Promise<Session> | undefined;
  let closed = false;
  let inFlight = 0;
  const queue: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const running = new Set<Promise<void>>();

  function buildSession(apiVersion: InfluxApiVersion): Session {
    const { v2Token, v1Authorization } = writeCredentials(config);
    const base = new InfluxDB({
      url,
      timeout: config.timeoutMs,
      transportOptions: { agent },
      ...(apiVersion === 'v2' && v2Token !== undefined ? { token: v2Token } : {}),
    }).transport;
    const transport = createWriteTransport(base, {
      apiVersion,
      timeoutMs: config.timeoutMs,
      ...(v1Authorization === undefined ? {} : { authorization: v1Authorization }),
    });
    const client = new InfluxDB({ url, transport });
    if (apiVersion === 'v1') {
      const bucket = config.retentionPolicy === undefined ? config.database : `${config.database}/${config.retentionPolicy}`;
      return { apiVersion, client, org: '', bucket };
    }
    if (config.org === undefined)
      log.warn({ event: 'influx.config' }, 'influx.org is not set: InfluxDB 2.x needs it (3.x and 1.8+ ignore it)');
    return { apiVersion, client, org: config.org ?? '', bucket: config.bucket };
  }

  async function resolveSession(): Promise<Session> {
    if (session) return session;
    if (config.apiVersion !== 'auto') {
      session = buildSession(config.apiVersion);
      log.info({ event: 'influx.api', apiVersion: session.apiVersion, configured: true }, 'InfluxDB write API chosen by config');
      return session;
    }
    detecting ??= (async () => {
      const p = await pingInflux(url, config.timeoutMs);
      if (!p.ok) {
        throw new InfluxWriteError(`InfluxDB unreachable at ${url}/ping: cannot detect its API version (retryable)`, {
          retryable: true,
          reason: 'unreachable',
        });
      }
      const s = buildSession(apiVersionFor(p.version));
      log.info({ event: 'influx.api', apiVersion: s.apiVersion, version: p.version ?? null }, 'InfluxDB write API detected from /ping');
      session = s;
      return s;
    })().finally(() => {
      detecting = undefined;
    });
    return detecting;
  }

  async function acquire(): Promise<void> {
    if (inFlight < config.maxInFlight) {
      inFlight += 1;
      return;
    }
    await new Promise<void>((resolve, reject) => queue.push({ resolve, reject }));
  }

  function release(): void {
    const next = queue.shift();
    if (next)
      next.resolve(); // the slot passes on: inFlight unchanged
    else inFlight -= 1;
  }

  async function send(s: Session, lines: readonly string[]): Promise<void> {
    let failure: InfluxWriteError | undefined;
    const options: Partial<WriteOptions> = {
      batchSize: lines.length + 1,
      maxBatchBytes: Number.POSITIVE_INFINITY,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: lines.length + 1,
      // gzip costs 15–25 % on loopback (DESIGN.md); undefined overrides the client's 1000-byte default.
      gzipThreshold: undefined,
      writeFailed(error: Error): Promise<void> {
        // Some servers answer 200 (the client expects 204/201): still a 2xx, so the lines are confirmed.
        if (error instanceof HttpError && error.statusCode >= 200 && error.statusCode < 300) return Promise.resolve();
        failure = toWriteError(error, config.timeoutMs);
        return Promise.reject(failure);
      },
    };
    const api = s.client.getWriteApi(s.org, s.bucket, 'ns', options);
    // Typed `Array<string>`, but WriteApiImpl only reads it (index loop).
    api.writeRecords(lines as string[]);
    try {
      await api.close();
    } catch (e) {
      throw failure ?? toWriteError(e, config.timeoutMs);
    }
  }

  async function write(lines: readonly string[]): Promise<void> {
    if (closed) throw new InfluxWriteError('InfluxDB writer is closed (retryable)', { retryable: true, reason: 'closed' });
    if (lines.length === 0) return;
    await acquire();
    const task = (async () => {
      try {
        const s = await resolveSession();
        await send(s, lines);
      } finally {
        release();
      }
    })();
    running.add(task);
    try {
      await task;
    } finally {
      running.delete(task);
    }
  }

  async function ensureDatabase(): Promise<void> {
    const s = await resolveSession();
    if (s.apiVersion === 'v2') {
      log.debug({ event: 'influx.ensure_database' }, 'v2: the bucket is provisioned by the operator');
      return;
    }
    const auth = queryAuthorization(config);
    // CREATE DATABASE is idempotent in 1.x (no error when it exists).
    await runInfluxQL(
      { url, database: config.database, timeoutMs: config.timeoutMs, ...(auth === undefined ? {} : { authorization: auth }) },
      `CREATE DATABASE ${quoteIdent(config.database)}`,
      { method: 'POST' },
    );
  }

  async function ping(): Promise<InfluxPing> {
    const p = await pingInflux(url, config.timeoutMs);
    let apiVersion: InfluxApiVersion;
    if (session) apiVersion = session.apiVersion;
    else if (config.apiVersion !== 'auto') apiVersion = config.apiVersion;
    else {
      apiVersion = apiVersionFor(p.version);
      if (p.ok) await resolveSession().catch(() => undefined);
    }
    return { ...p, apiVersion };
  }

  async function close(): Promise<void> {
    closed = true;
    // A queued write never held a slot, so rejecting it leaves inFlight as is.
    for (const q of queue.splice(0)) {
      q.reject(
        new InfluxWriteError('InfluxDB writer closed before this write was sent (retryable)', { retryable: true, reason: 'closed' }),
      );
    }
    await Promise.allSettled([...running]);
    agent.destroy();
  }

  // Detect early (and log the choice), but start even when InfluxDB is down: the journal keeps the data and
  // the first write detects again.
  await resolveSession().catch((e: unknown) => {
    log.warn({ event: 'influx.api', err: e }, 'InfluxDB not reachable at start; API version detection deferred');
  });

  return {
    write,
    ping,
    ensureDatabase,
    close,
    load: () => ({ inFlight, queued: queue.length }),
  };
}
