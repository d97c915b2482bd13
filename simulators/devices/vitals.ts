import type { DeviceContext, DeviceSpec } from '../types.js';
import { assemble, battery, between, heartbeats, incidentsOf, round1, sec, type Happening, type TracedAction } from './common.js';
import type { Vitals } from './events.js';
import { localDays, localToUtc, HOUR, MINUTE } from './local-time.js';

// Vital-signs kit for digital home follow-up: every morning (08:30–09:30 local) the patient measures blood
// pressure with pulse, then SpO₂, weight, body temperature and blood glucose, a minute apart, around the
// patient's own baselines. vitals-out-of-range: a session at the incident's time with values well outside
// the usual alert limits (it replaces that morning's session when within 3 hours of it).

const STEP = MINUTE;

export function vitalsActions(spec: DeviceSpec, ctx: DeviceContext): Iterable<TracedAction> {
  const base = {
    sys: between(ctx.rand, 118, 142),
    dia: between(ctx.rand, 70, 86),
    hr: between(ctx.rand, 60, 80),
    spo2: between(ctx.rand, 94, 98),
    weight: between(ctx.rand, 55, 95),
    temp: between(ctx.rand, 36.4, 36.9),
    glucose: between(ctx.rand, 5, 7.5),
  };
  const abnormal = incidentsOf(ctx, 'vitals-out-of-range');
  const out: Happening[] = [];
  const session = (t: number, v: readonly Vitals[]) =>
    v.forEach((readings, k) => out.push({ at: sec(t + k * STEP), events: [{ type: 'vitals', readings }] }));

  for (const d of localDays(ctx.start, ctx.end, ctx.timeZone)) {
    const t = localToUtc(d, between(ctx.rand, 8.5 * 60, 9.5 * 60), ctx.timeZone);
    const jitter = () => between(ctx.rand, -1, 1);
    const normal: Vitals[] = [
      {
        systolicMmHg: Math.round(base.sys + 6 * jitter()),
        diastolicMmHg: Math.round(base.dia + 4 * jitter()),
        heartRateBpm: Math.round(base.hr + 5 * jitter()),
      },
      { spo2Pct: Math.min(100, Math.round(base.spo2 + jitter())) },
      { weightKg: round1(base.weight + 0.4 * jitter()) },
      { bodyTemperatureC: round1(base.temp + 0.2 * jitter()) },
      { glucoseMmolL: round1(base.glucose + 0.8 * jitter()) },
    ];
    if (!abnormal.some((i) => Math.abs(i.at - t) < 3 * HOUR)) session(t, normal);
  }
  for (const i of abnormal) {
    session(i.at, [
      { systolicMmHg: 186, diastolicMmHg: 112, heartRateBpm: 128 },
      { spo2Pct: 85 },
      { weightKg: round1(base.weight + 2.6) },
      { bodyTemperatureC: 39.2 },
      { glucoseMmolL: 17.8 },
    ]);
  }
  out.push(...heartbeats(spec, ctx, battery(spec, ctx), false));
  return assemble(spec, ctx, out, new Map());
}
