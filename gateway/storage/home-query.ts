import type { InfluxWriterConfig } from './influx.js';
import { queryAuthorization } from './influx-transport.js';
import { quoteIdent, quoteLiteral, rfc3339ToNs, runInfluxQL, type InfluxQLTarget, type StatementResult } from './influxql.js';
import { FIELD_TYPES, type Measurement } from './line-protocol.js';

// Per-home reads for the dashboard's home page (issue 6 item 1), over InfluxQL like query.ts: a home's recent
// discrete events, its dose reports, and a chart's series downsampled by InfluxDB itself. Points carry the
// home of the moment they were received (tag `home_id`), so a device moved to another patient takes none of
// the previous patient's history with it. Every identifier and literal is quoted; times are epoch ms.

/** The measurements with discrete events a nurse reads as "what happened" (readings go to the charts). */
export const EVENT_MEASUREMENTS = ['dose', 'lock', 'alarm'] as const satisfies readonly Measurement[];
export type EventMeasurement = (typeof EVENT_MEASUREMENTS)[number];

/** Measurements with numeric fields that charts can show. */
export const CHART_MEASUREMENTS = ['sensor', 'vitals', 'device_status'] as const satisfies readonly Measurement[];
export type ChartMeasurement = (typeof CHART_MEASUREMENTS)[number];

/** The numeric (float or integer) fields of a chart measurement: mean and max make sense only for those. */
export function chartFields(measurement: ChartMeasurement): string[] {
  const types: Readonly<Record<string, string>> = FIELD_TYPES[measurement];
  return Object.entries(types)
    .filter(([, t]) => t === 'float' || t === 'integer')
    .map(([f]) => f);
}

export interface HomeEvent {
  /** ISO, millisecond precision. */
  at: string;
  deviceId: string;
  type: EventMeasurement;
  kind: string;
  /** dose: the dispenser's slot label. */
  slot: string | null;
  /** lock: how it was operated (never the credential reference). */
  method: string | null;
  /** alarm: true when it started, false when the device reported it over. */
  active: boolean | null;
}

export interface DoseReport {
  at: number;
  deviceId: string;
  slot: string | null;
  scheduledAt: string | null;
}

export interface SeriesRequest {
  homeId: string;
  measurement: ChartMeasurement;
  field: string;
  from: number;
  /** Exclusive. */
  to: number;
  bucketMs: number;
}

export interface BucketPoint {
  /** Bucket start, ISO. */
  t: string;
  mean: number;
  max: number;
}

export interface DeviceSeries {
  deviceId: string;
  points: BucketPoint[];
}

export interface HomeQuery {
  /** The newest `limit` dose, lock and alarm events of the home since `since`, newest first. */
  recentEvents(homeId: string, since: number, limit: number): Promise<HomeEvent[]>;
  /** The home's dose reports of one kind (`taken`) in [from, to), oldest first. */
  doseReports(homeId: string, kind: string, from: number, to: number): Promise<DoseReport[]>;
  /** Mean and max per bucket and device; empty buckets are left out. */
  series(q: SeriesRequest): Promise<DeviceSeries[]>;
}

function nsToIso(time: string): string {
  return new Date(Number(rfc3339ToNs(time) / 1_000_000n)).toISOString();
}

function rowsOf(result: StatementResult | undefined): { tags: Record<string, string>; row: Record<string, unknown> }[] {
  const out: { tags: Record<string, string>; row: Record<string, unknown> }[] = [];
  for (const s of result?.series ?? []) {
    for (const values of s.values ?? []) {
      const row: Record<string, unknown> = { _measurement: s.name };
      s.columns.forEach((c, i) => (row[c] = values[i]));
      out.push({ tags: s.tags ?? {}, row });
    }
  }
  return out;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function createHomeQuery(config: InfluxWriterConfig): HomeQuery {
  const auth = queryAuthorization(config);
  const target: InfluxQLTarget = {
    url: config.url,
    database: config.database,
    timeoutMs: config.timeoutMs,
    ...(config.retentionPolicy === undefined ? {} : { retentionPolicy: config.retentionPolicy }),
    ...(auth === undefined ? {} : { authorization: auth }),
  };
  const home = (homeId: string): string => `${quoteIdent('home_id')} = ${quoteLiteral(homeId)}`;
  const ms = (n: number): string => `${Math.trunc(n)}ms`;

  return {
    async recentEvents(homeId, since, limit) {
      // One statement over three measurements gives one series each, LIMIT applying per series; the newest
      // `limit` overall are among them. event_id is selected because every point has it: a point whose
      // optional fields are all absent would otherwise not be returned at all.
      const from = EVENT_MEASUREMENTS.map(quoteIdent).join(', ');
      const cols = ['device_id', 'kind', 'slot', 'method', 'active', 'event_id'].map(quoteIdent).join(', ');
      const q = `SELECT ${cols} FROM ${from} WHERE ${home(homeId)} AND time >= ${ms(since)} ORDER BY time DESC LIMIT ${Math.trunc(limit)}`;
      const [result] = await runInfluxQL(target, q);
      const events = rowsOf(result).flatMap(({ row }): { ns: bigint; e: HomeEvent }[] => {
        const time = str(row.time);
        const type = EVENT_MEASUREMENTS.find((m) => m === row._measurement);
        if (time === null || type === undefined) return [];
        const e: HomeEvent = {
          at: nsToIso(time),
          deviceId: str(row.device_id) ?? '',
          type,
          kind: str(row.kind) ?? '',
          slot: type === 'dose' ? str(row.slot) : null,
          method: type === 'lock' ? str(row.method) : null,
          active: type === 'alarm' && typeof row.active === 'boolean' ? row.active : null,
        };
        return [{ ns: rfc3339ToNs(time), e }];
      });
      events.sort((a, b) => (a.ns === b.ns ? 0 : a.ns > b.ns ? -1 : 1));
      return events.slice(0, limit).map((x) => x.e);
    },

    async doseReports(homeId, kind, from, to) {
      const cols = ['device_id', 'slot', 'scheduled_at', 'event_id'].map(quoteIdent).join(', ');
      const q = `SELECT ${cols} FROM ${quoteIdent('dose')} WHERE ${home(homeId)} AND ${quoteIdent('kind')} = ${quoteLiteral(kind)} AND time >= ${ms(from)} AND time < ${ms(to)} ORDER BY time ASC`;
      const [result] = await runInfluxQL(target, q);
      return rowsOf(result).flatMap(({ row }) => {
        const time = str(row.time);
        if (time === null) return [];
        return [
          {
            at: Number(rfc3339ToNs(time) / 1_000_000n),
            deviceId: str(row.device_id) ?? '',
            slot: str(row.slot),
            scheduledAt: str(row.scheduled_at),
          },
        ];
      });
    },

    async series(req) {
      const f = quoteIdent(req.field);
      const bucket = Math.max(1, Math.trunc(req.bucketMs));
      // The offset aligns the buckets on `from` (InfluxDB aligns them on the epoch otherwise), so the range
      // holds at most ceil(range / bucket) of them.
      const offset = ((Math.trunc(req.from) % bucket) + bucket) % bucket;
      const q =
        `SELECT mean(${f}) AS "mean", max(${f}) AS "max" FROM ${quoteIdent(req.measurement)} ` +
        `WHERE ${home(req.homeId)} AND time >= ${ms(req.from)} AND time < ${ms(req.to)} ` +
        `GROUP BY time(${bucket}ms, ${offset}ms), ${quoteIdent('device_id')} fill(none)`;
      const [result] = await runInfluxQL(target, q);
      const byDevice = new Map<string, BucketPoint[]>();
      for (const { tags, row } of rowsOf(result)) {
        const time = str(row.time);
        if (time === null || typeof row.mean !== 'number' || typeof row.max !== 'number') continue;
        const id = tags.device_id ?? '';
        const list = byDevice.get(id) ?? [];
        list.push({ t: nsToIso(time), mean: row.mean, max: row.max });
        byDevice.set(id, list);
      }
      return [...byDevice].sort(([a], [b]) => a.localeCompare(b)).map(([deviceId, points]) => ({ deviceId, points }));
    },
  };
}
