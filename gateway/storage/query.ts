import type { Logger } from '../log.js';
import type { InfluxWriterConfig } from './influx.js';
import { queryAuthorization } from './influx-transport.js';
import { quoteIdent, quoteLiteral, rfc3339ToNs, runInfluxQL, type InfluxQLTarget, type InfluxValue } from './influxql.js';
import { MEASUREMENTS, TAG_KEYS, fieldType, type FieldName, type Measurement } from './line-protocol.js';

// The read path for the dashboard (charts, history, "last seen"): InfluxQL over /query, which works on 1.x,
// 2.x (with a DBRP mapping for the bucket) and 3.x. Device ids come from the registry and are safe, but every
// identifier and literal is quoted anyway.

export interface LastValue {
  /** RFC3339 with nanoseconds, as InfluxDB returns it. */
  time: string;
  tags: Partial<Record<(typeof TAG_KEYS)[number], string>>;
  /** The fields of that latest point (absent fields left out). */
  fields: Record<string, Exclude<InfluxValue, null>>;
}

export type TimeBound = Date | string | number;

export interface SeriesQuery<M extends Measurement> {
  deviceId: string;
  measurement: M;
  field: FieldName<M>;
  from: TimeBound;
  /** Exclusive. */
  to: TimeBound;
  /**
   * Downsample into buckets of this length: an InfluxQL duration (`30s`, `5m`, `1h`, `1d`) or milliseconds.
   * Numbers are averaged with mean(), booleans and strings take last(); empty buckets are null.
   */
  every?: string | number;
}

export interface SeriesPoint {
  time: string;
  value: InfluxValue;
}

export interface CountWhere {
  deviceId?: string;
  homeId?: string;
  kind?: string;
  from?: TimeBound;
  to?: TimeBound;
}

export interface InfluxQuery {
  /** The latest point of each measurement the device has data in. */
  lastValues(deviceId: string): Promise<Partial<Record<Measurement, LastValue>>>;
  series<M extends Measurement>(q: SeriesQuery<M>): Promise<SeriesPoint[]>;
  /** Number of points (counts `event_id`, which every point has). */
  count(measurement: Measurement, where?: CountWhere): Promise<number>;
}

/** More buckets than this is a caller bug (a chart has a few hundred pixels). */
export const MAX_BUCKETS = 10_000;

const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function everyClause(every: string | number): { literal: string; ms: number } {
  if (typeof every === 'number') {
    if (!Number.isSafeInteger(every) || every <= 0) throw new RangeError(`every must be a positive whole number of ms, got ${every}`);
    return { literal: `${every}ms`, ms: every };
  }
  const m = /^([1-9]\d{0,9})(ms|s|m|h|d|w)$/.exec(every);
  const unit = m?.[2] === undefined ? undefined : DURATION_MS[m[2]];
  if (!m || unit === undefined) throw new RangeError(`every must look like 30s, 5m, 1h or 1d, got ${JSON.stringify(every)}`);
  return { literal: every, ms: Number(m[1]) * unit };
}

function toMs(t: TimeBound): number {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(t)}`);
  return Math.trunc(ms);
}

export function createInfluxQuery(config: InfluxWriterConfig, _deps: { logger: Logger }): InfluxQuery {
  const auth = queryAuthorization(config);
  const target: InfluxQLTarget = {
    url: config.url,
    database: config.database,
    timeoutMs: config.timeoutMs,
    ...(config.retentionPolicy === undefined ? {} : { retentionPolicy: config.retentionPolicy }),
    ...(auth === undefined ? {} : { authorization: auth }),
  };

  async function lastValues(deviceId: string): Promise<Partial<Record<Measurement, LastValue>>> {
    // One request, one statement per measurement. GROUP BY * puts the tags in series.tags (one series per
    // tag set, e.g. per alarm kind), LIMIT 1 applies per series; the latest series wins.
    const where = `WHERE ${quoteIdent('device_id')} = ${quoteLiteral(deviceId)}`;
    const q = MEASUREMENTS.map((m) => `SELECT *::field FROM ${quoteIdent(m)} ${where} GROUP BY * ORDER BY time DESC LIMIT 1`).join('; ');
    const results = await runInfluxQL(target, q);
    const out: Partial<Record<Measurement, LastValue>> = {};
    MEASUREMENTS.forEach((measurement, i) => {
      let best: { ns: bigint; value: LastValue } | undefined;
      for (const s of results[i]?.series ?? []) {
        const row = s.values?.[0];
        if (!row) continue;
        const time = row[0];
        if (typeof time !== 'string') continue;
        const ns = rfc3339ToNs(time);
        if (best && best.ns >= ns) continue;
        const fields: LastValue['fields'] = {};
        s.columns.forEach((col, c) => {
          const v = row[c];
          if (c > 0 && v !== null && v !== undefined) fields[col] = v;
        });
        best = { ns, value: { time, tags: { ...s.tags }, fields } };
      }
      if (best) out[measurement] = best.value;
    });
    return out;
  }

  async function series<M extends Measurement>(query: SeriesQuery<M>): Promise<SeriesPoint[]> {
    const field = String(query.field);
    const type = fieldType(query.measurement, field);
    if (type === undefined) throw new RangeError(`${query.measurement} has no field ${field}`);
    const from = toMs(query.from);
    const to = toMs(query.to);
    if (to <= from) return [];
    const where = `WHERE ${quoteIdent('device_id')} = ${quoteLiteral(query.deviceId)} AND time >= ${from}ms AND time < ${to}ms`;
    let q: string;
    if (query.every === undefined) {
      q = `SELECT ${quoteIdent(field)} AS "value" FROM ${quoteIdent(query.measurement)} ${where} ORDER BY time ASC`;
    } else {
      const every = everyClause(query.every);
      if ((to - from) / every.ms > MAX_BUCKETS) throw new RangeError(`more than ${MAX_BUCKETS} buckets: use a larger every`);
      const agg = type === 'float' || type === 'integer' ? 'mean' : 'last';
      q = `SELECT ${agg}(${quoteIdent(field)}) AS "value" FROM ${quoteIdent(query.measurement)} ${where} GROUP BY time(${every.literal}) fill(null)`;
    }
    const [result] = await runInfluxQL(target, q);
    const out: SeriesPoint[] = [];
    for (const s of result?.series ?? []) {
      const t = s.columns.indexOf('time');
      const v = s.columns.indexOf('value');
      for (const row of s.values ?? []) {
        const time = row[t];
        if (typeof time === 'string') out.push({ time, value: row[v] ?? null });
      }
    }
    return out;
  }

  async function count(measurement: Measurement, where: CountWhere = {}): Promise<number> {
    const conds: string[] = [];
    if (where.deviceId !== undefined) conds.push(`${quoteIdent('device_id')} = ${quoteLiteral(where.deviceId)}`);
    if (where.homeId !== undefined) conds.push(`${quoteIdent('home_id')} = ${quoteLiteral(where.homeId)}`);
    if (where.kind !== undefined) conds.push(`${quoteIdent('kind')} = ${quoteLiteral(where.kind)}`);
    if (where.from !== undefined) conds.push(`time >= ${toMs(where.from)}ms`);
    if (where.to !== undefined) conds.push(`time < ${toMs(where.to)}ms`);
    const q = `SELECT count(${quoteIdent('event_id')}) FROM ${quoteIdent(measurement)}${conds.length > 0 ? ` WHERE ${conds.join(' AND ')}` : ''}`;
    const [result] = await runInfluxQL(target, q);
    let total = 0;
    for (const s of result?.series ?? []) {
      const c = s.columns.indexOf('count');
      for (const row of s.values ?? []) {
        const n = row[c];
        if (typeof n === 'number') total += n;
      }
    }
    return total;
  }

  return { lastValues, series, count };
}
