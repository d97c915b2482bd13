import { z } from 'zod';

// InfluxQL over `/query`: the one read protocol that works on 1.x, 2.x (DBRP mapping) and 3.x. The client's
// QueryApi speaks Flux only, so this is plain fetch. Times are requested as RFC3339 strings (the default):
// `epoch=ns` would return JSON numbers beyond 2^53 and lose the sub-millisecond part of our timestamps.

const ValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type InfluxValue = z.infer<typeof ValueSchema>;

const SeriesSchema = z.object({
  name: z.string(),
  tags: z.record(z.string(), z.string()).optional(),
  columns: z.array(z.string()),
  values: z.array(z.array(ValueSchema)).optional(),
});
export type InfluxSeries = z.infer<typeof SeriesSchema>;

const StatementResultSchema = z.object({
  statement_id: z.number().optional(),
  series: z.array(SeriesSchema).optional(),
  error: z.string().optional(),
});
export type StatementResult = z.infer<typeof StatementResultSchema>;

const QueryResponseSchema = z.object({
  results: z.array(StatementResultSchema).optional(),
  error: z.string().optional(),
});

export class InfluxQueryError extends Error {
  override readonly name = 'InfluxQueryError';
  readonly code = 'TRY_ERR_INFLUX_QUERY';
  readonly status?: number;
  constructor(message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    if (opts.status !== undefined) this.status = opts.status;
  }
}

/** InfluxQL identifier: double-quoted, `"` and `\` escaped. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** InfluxQL string literal: single-quoted, `'` and `\` escaped. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/['\\]/g, (c) => `\\${c}`)}'`;
}

export interface InfluxQLTarget {
  url: string;
  database: string;
  retentionPolicy?: string;
  authorization?: string;
  timeoutMs: number;
}

/**
 * Runs one or more `;`-separated statements. Reads use GET (accepted everywhere); statements that change
 * state use POST (1.x refuses them over GET). A statement's own error becomes an InfluxQueryError.
 */
export async function runInfluxQL(target: InfluxQLTarget, q: string, opts: { method?: 'GET' | 'POST' } = {}): Promise<StatementResult[]> {
  const method = opts.method ?? 'GET';
  const params = new URLSearchParams({ db: target.database });
  if (target.retentionPolicy !== undefined) params.set('rp', target.retentionPolicy);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.authorization !== undefined) headers.authorization = target.authorization;
  let body: URLSearchParams | undefined;
  if (method === 'GET') params.set('q', q);
  else body = new URLSearchParams({ q });
  const base = target.url.endsWith('/') ? target.url.slice(0, -1) : target.url;
  let res: Response;
  try {
    res = await fetch(`${base}/query?${params.toString()}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (e) {
    throw new InfluxQueryError(`InfluxDB /query unreachable: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InfluxQueryError(`InfluxDB /query answered ${res.status} with a non-JSON body: ${text.slice(0, 200)}`, {
      status: res.status,
      cause: e,
    });
  }
  const parsed = QueryResponseSchema.safeParse(json);
  if (!parsed.success) throw new InfluxQueryError(`InfluxDB /query answered ${res.status} with an unexpected body`, { status: res.status });
  if (!res.ok || parsed.data.error !== undefined) {
    throw new InfluxQueryError(`InfluxDB /query answered ${res.status}: ${parsed.data.error ?? text.slice(0, 200)}`, {
      status: res.status,
    });
  }
  const results = parsed.data.results ?? [];
  for (const r of results) {
    if (r.error !== undefined)
      throw new InfluxQueryError(`InfluxQL statement ${r.statement_id ?? '?'} failed: ${r.error}`, { status: res.status });
  }
  return results;
}

/**
 * RFC3339 (as /query returns it: `2024-01-01T00:00:00.000000001Z`, fraction trimmed) → epoch nanoseconds.
 * Comparing the strings themselves is wrong (`…20Z` sorts after `…20.5Z`).
 */
export function rfc3339ToNs(time: string): bigint {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (!m?.[1] || !m[3]) throw new TypeError(`not an RFC3339 time: ${time}`);
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(seconds)) throw new TypeError(`not an RFC3339 time: ${time}`);
  const fraction = BigInt((m[2] ?? '').padEnd(9, '0'));
  return BigInt(seconds) * 1_000_000n + fraction;
}
