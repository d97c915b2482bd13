// The charts on a home's page: one per reading the home's devices have, over 24 hours or 7 days. The data comes
// from /homes/{id}/series (InfluxDB, downsampled); the chart code (uPlot) is loaded only when a chart is drawn.

import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { useT } from '../i18n/context.js';
import { failureText, useLoad } from '../load.js';
import type { ChartMeasurement, DeviceKind, Series } from '../resource-types.js';

type Range = '24h' | '7d';
const RANGE_MS: Readonly<Record<Range, number>> = { '24h': 86_400_000, '7d': 7 * 86_400_000 };

// The numeric readings of the measurements a kind of device reports (gateway/storage/line-protocol.ts).
const FIELDS_BY_KIND: Partial<Record<DeviceKind, readonly { measurement: ChartMeasurement; field: string }[]>> = {
  sensor: ['temperature_c', 'humidity_pct', 'illuminance_lux'].map((field) => ({ measurement: 'sensor', field })),
  vitals: [
    'heart_rate_bpm',
    'spo2_pct',
    'bp_systolic_mmhg',
    'bp_diastolic_mmhg',
    'body_weight_kg',
    'body_temperature_c',
    'blood_glucose_mmol_l',
  ].map((field) => ({ measurement: 'vitals', field })),
};

export function HomeCharts({ homeId, kinds }: { homeId: string; kinds: readonly DeviceKind[] }) {
  const t = useT();
  const [range, setRange] = useState<Range>('24h');
  const name = useId();
  const wanted = [...new Set(kinds)].flatMap((k) => FIELDS_BY_KIND[k] ?? []);
  const key = wanted.map((w) => w.field).join(',');
  const { value, error } = useLoad(
    async (r) => {
      const to = Date.now() + 60_000;
      const from = to - RANGE_MS[range];
      const iso = (ms: number) => new Date(ms).toISOString();
      const all = await Promise.all(wanted.map((w) => r.series(homeId, { ...w, from: iso(from), to: iso(to), points: 300 })));
      return all.filter((s) => s.series.some((d) => d.points.length > 0));
    },
    [homeId, range, key],
  );

  return (
    <section class="panel" aria-labelledby={`${name}-h`} data-testid="charts">
      <h2 id={`${name}-h`}>{t.home.charts}</h2>
      <fieldset class="segmented">
        <legend>{t.home.range}</legend>
        {(['24h', '7d'] as const).map((r) => (
          <label key={r} class="segmented__option">
            <input type="radio" name={name} value={r} checked={range === r} onChange={() => setRange(r)} />
            {t.home.ranges[r]}
          </label>
        ))}
      </fieldset>
      {value.state === 'loading' ? (
        <p class="loading" role="status">
          {t.home.chartsLoading}
        </p>
      ) : value.state === 'error' ? (
        <p class="notice" role="status">
          {value.code === 'TRY_ERR_STORAGE_UNAVAILABLE' ? t.home.chartsUnavailable : failureText(error, t)}
        </p>
      ) : value.data.length === 0 ? (
        <p class="empty">{t.home.noReadings}</p>
      ) : (
        value.data.map((s) => <ChartFigure key={`${s.measurement}.${s.field}.${range}`} series={s} days={range === '7d'} />)
      )}
    </section>
  );
}

function summary(s: Series): { n: number; min: number; max: number; last: number } {
  const points = s.series.flatMap((d) => d.points).sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
  const means = points.map((p) => p.mean);
  return { n: points.length, min: Math.min(...means), max: Math.max(...means), last: points[points.length - 1]?.mean ?? NaN };
}

function ChartFigure({ series, days }: { series: Series; days: boolean }) {
  const t = useT();
  const ref = useRef<HTMLDivElement>(null);
  const label = t.home.fields[series.field] ?? series.field;
  const unit = /\(([^)]+)\)$/.exec(label)?.[1] ?? '';
  const fmt = new Intl.NumberFormat(t.locale, { maximumFractionDigits: 1 });
  const s = summary(series);

  useEffect(() => {
    const el = ref.current;
    if (el === null) return;
    let chart: { resize(w: number): void; destroy(): void } | undefined;
    let gone = false;
    const observer = new ResizeObserver(() => chart?.resize(el.clientWidth));
    import('../chart.js').then(
      (m) => {
        if (gone) return;
        chart = m.drawChart(el, series, { width: el.clientWidth, height: 200, unit, locale: t.locale, days });
        observer.observe(el);
      },
      () => undefined, // the chunk did not load (offline): the summary text stays
    );
    return () => {
      gone = true;
      observer.disconnect();
      chart?.destroy();
    };
  }, [series, unit, t.locale, days]);

  return (
    <figure class="chart" data-testid={`chart-${series.field}`}>
      <figcaption>{label}</figcaption>
      <div
        ref={ref}
        class="chart__plot"
        role="img"
        aria-label={t.home.chartSummary(label, s.n, fmt.format(s.min), fmt.format(s.max), fmt.format(s.last))}
      />
    </figure>
  );
}
