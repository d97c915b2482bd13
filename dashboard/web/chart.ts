// The time-series chart of a home's page: uPlot, loaded with a dynamic import() (views/home-charts.tsx), so it
// is its own chunk and not part of the first load. One line per device (the mean per bucket); a gap in the
// data stays a gap.

import uPlot from 'uplot';
import type { Series } from './resource-types.js';

// Dark enough on white for a line (≥ 3:1), and told apart by dash too, not colour alone.
const LINES = [
  { stroke: '#0b5cad', dash: undefined },
  { stroke: '#a84300', dash: [6, 4] },
  { stroke: '#1d6b2f', dash: [2, 3] },
  { stroke: '#6b2fa3', dash: [10, 3, 2, 3] },
] as const;

export interface Chart {
  resize(width: number): void;
  destroy(): void;
}

/** x: seconds, sorted union of every device's bucket starts; y: one array per device, null where it has none. */
export function align(s: Series): uPlot.AlignedData {
  const xs = [...new Set(s.series.flatMap((d) => d.points.map((p) => Date.parse(p.t) / 1000)))].sort((a, b) => a - b);
  const ys = s.series.map((d) => {
    const at = new Map(d.points.map((p) => [Date.parse(p.t) / 1000, p.mean]));
    return xs.map((x) => at.get(x) ?? null);
  });
  return [xs, ...ys];
}

export function drawChart(
  el: HTMLElement,
  s: Series,
  opts: { width: number; height: number; unit: string; locale: string; days: boolean },
): Chart {
  const time = new Intl.DateTimeFormat(
    opts.locale,
    opts.days ? { weekday: 'short', hour: '2-digit', minute: '2-digit' } : { hour: '2-digit', minute: '2-digit' },
  );
  const plot = new uPlot(
    {
      width: opts.width,
      height: opts.height,
      legend: { show: s.series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        {
          stroke: '#1a1a1a',
          grid: { stroke: '#e3e8ee' },
          // The reader's language and 24-hour clock (uPlot's own labels are English, 12-hour).
          values: (_u: uPlot, splits: number[]) => splits.map((v) => time.format(new Date(v * 1000))),
        },
        { stroke: '#1a1a1a', grid: { stroke: '#e3e8ee' }, size: 50, label: opts.unit },
      ],
      series: [
        {},
        ...s.series.map((d, i) => {
          const line = LINES[i % LINES.length] ?? LINES[0];
          return { label: d.deviceId, stroke: line.stroke, width: 2, spanGaps: false, ...(line.dash ? { dash: [...line.dash] } : {}) };
        }),
      ],
    },
    align(s),
    el,
  );
  return {
    resize: (width) => plot.setSize({ width, height: opts.height }),
    destroy: () => plot.destroy(),
  };
}
