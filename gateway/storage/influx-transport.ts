import type { CommunicationObserver, ResponseStartedFn, SendOptions, Transport } from '@influxdata/influxdb-client';
import type { Config } from '../config/schema.js';

// Which InfluxDB write API to speak and how to authenticate to it (docs/adr/005-influxdb-storage.md): 1.x
// before 1.8 has only `/write` with Basic auth, everything newer `/api/v2/write` with a token (or
// `user:password` as one). The writer (influx.ts) always drives the client's v2 write path; the transport here
// maps it to v1 when needed and gives every write request a deadline. InfluxQL `/query` (query.ts,
// home-query.ts, the writer's CREATE DATABASE) takes its auth from here too.

export type InfluxApiVersion = 'v1' | 'v2';
export type InfluxConfig = Config['influx'];

// ── API version ─────────────────────────────────────────────────────────────────────────────────────────

/** 1.x before 1.8 only has `/write`; 1.8+, 2.x and 3.x accept `/api/v2/write`. Unknown or missing → v2. */
export function apiVersionFor(version: string | undefined): InfluxApiVersion {
  const m = version === undefined ? null : /^v?(\d+)\.(\d+)/.exec(version.trim());
  if (!m) return 'v2';
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major === 1 && minor < 8 ? 'v1' : 'v2';
}

export async function pingInflux(url: string, timeoutMs: number): Promise<{ ok: boolean; version?: string }> {
  try {
    const res = await fetch(`${trimSlash(url)}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    const version = res.headers.get('x-influxdb-version') ?? undefined;
    return { ok: res.status === 204 || res.status === 200, ...(version === undefined ? {} : { version }) };
  } catch {
    return { ok: false };
  }
}

export function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * The write API's credentials: v2 sends a token (`username:password` stands in for one: 1.8+ accepts it), v1
 * `/write` sends Basic auth (1.6.7 refuses `Token user:pass`). Undefined = none.
 */
export function writeCredentials(config: InfluxConfig): { v2Token?: string | undefined; v1Authorization?: string | undefined } {
  const { username, password } = config;
  const userPass = username !== undefined && password !== undefined;
  return {
    v2Token: config.token ?? (userPass ? `${username}:${password}` : undefined),
    v1Authorization: userPass ? basicAuth(username, password) : undefined,
  };
}

/** The `Authorization` header for InfluxQL `/query`: a token, else Basic, else none. (v1 `/write`: writeCredentials.) */
export function queryAuthorization(config: InfluxConfig): string | undefined {
  if (config.token !== undefined) return `Token ${config.token}`;
  if (config.username !== undefined && config.password !== undefined) return basicAuth(config.username, config.password);
  return undefined;
}

// ── v1 transport ────────────────────────────────────────────────────────────────────────────────────────

/** 1.x `/write` precision names (n, u, ms, s, m, h). 1.6.7 answers 204 to `precision=us` and stores the times as ns (DESIGN.md). */
const V1_PRECISION: Readonly<Record<string, string>> = { ns: 'n', us: 'u', ms: 'ms', s: 's' };

/**
 * Maps the client's `/api/v2/write?org=&bucket=&precision=` to 1.x's `/write?db=&rp=&precision=`.
 * The bucket follows the 1.8 compatibility convention `database/retention-policy`. Other paths pass as is.
 */
export function v2WritePathToV1(path: string): string {
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  if (pathname !== '/api/v2/write') return path;
  const params = new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
  const bucket = params.get('bucket') ?? '';
  const slash = bucket.indexOf('/');
  const out = new URLSearchParams();
  out.set('db', slash < 0 ? bucket : bucket.slice(0, slash));
  if (slash >= 0 && slash < bucket.length - 1) out.set('rp', bucket.slice(slash + 1));
  const precision = params.get('precision');
  if (precision !== null) {
    const mapped = V1_PRECISION[precision];
    if (mapped === undefined) throw new Error(`no v1 precision for ${precision}`);
    out.set('precision', mapped);
  }
  const consistency = params.get('consistency');
  if (consistency !== null) out.set('consistency', consistency);
  return `/write?${out.toString()}`;
}

type Callbacks = Partial<CommunicationObserver<Uint8Array>>;

/**
 * Wraps the client's own Node transport (the documented `transport` option): in v1 mode it maps the write
 * path and sets v1 auth (1.6.7 refuses `Token user:pass`); in both modes it bounds each write request by a
 * deadline that destroys the socket.
 */
export function createWriteTransport(
  base: Transport,
  opts: {
    apiVersion: InfluxApiVersion;
    /** v1 only; undefined = no auth. */
    authorization?: string;
    timeoutMs: number;
  },
): Transport {
  const mapOptions = (options: SendOptions): SendOptions =>
    opts.apiVersion === 'v1' && opts.authorization !== undefined
      ? { ...options, headers: { ...options.headers, authorization: opts.authorization } }
      : options;
  const mapPath = (path: string): string => (opts.apiVersion === 'v1' ? v2WritePathToV1(path) : path);

  return {
    chunkCombiner: base.chunkCombiner,
    send(path: string, body: string, options: SendOptions, callbacks?: Callbacks): void {
      const controller = new AbortController();
      const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
      const timer = setTimeout(() => {
        controller.abort();
      }, opts.timeoutMs);
      const end = (): void => {
        clearTimeout(timer);
      };
      const wrapped: Callbacks = {
        ...callbacks,
        error(error: Error): void {
          end();
          callbacks?.error?.(error);
        },
        complete(): void {
          end();
          callbacks?.complete?.();
        },
      };
      try {
        base.send(mapPath(path), body, { ...mapOptions(options), signal }, wrapped);
      } catch (e) {
        end();
        throw e;
      }
    },
    request(path: string, body: unknown, options: SendOptions, responseStarted?: ResponseStartedFn): Promise<unknown> {
      return base.request(mapPath(path), body, mapOptions(options), responseStarted) as Promise<unknown>;
    },
    iterate(path: string, body: unknown, options: SendOptions): AsyncIterableIterator<Uint8Array> {
      return base.iterate(mapPath(path), body, mapOptions(options));
    },
  };
}
