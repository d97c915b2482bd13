import { formatSummary } from '../cpuprofile.js';
import { fmtCounts, fmtMs, fmtSeconds, gatewayEnvNote, machineLine, mb, table, type Row } from '../format.js';
import type { MachineInfo } from '../proc.js';
import type { BenchResult } from '../types.js';
import { DEFAULTS, DIY, DIY_MOSQUITTO, EXPLAIN_BELOW, TARGET_RATIO, type Params } from './params.js';
import type { CeilingResult, PhaseResult, PipelineResult, Sample } from './results.js';

// The ingest summary: the ceiling, one column per pipeline and their ratio, per-pipeline details (over
// time, CPU profile), the verdict against the target.

export const fmtS = (ms: number | undefined): string => fmtSeconds(ms, 1);
const fmt0 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(0));
export const fmt2 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(2));
export const fmtRate = (r: number | undefined): string =>
  r === undefined || Number.isNaN(r) ? '–' : `${Math.round(r).toLocaleString('en-US')}/s`;

export function report(
  params: Params,
  machine: MachineInfo,
  results: PhaseResult[],
  notes: string[],
  versions: { influxd: string; mosquitto: string | undefined },
): BenchResult {
  const t = results.find((r): r is PipelineResult => r.name === 'tryggheim');
  const d = results.find((r): r is PipelineResult => r.name === 'diy');
  const c = results.find((r): r is CeilingResult => r.name === 'ceiling');
  const a = t?.completed === true ? t.rates?.endToEnd : undefined;
  const b = d?.completed === true ? d.rates?.endToEnd : undefined;
  const ratio = a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  const ceiling = c?.completed === true ? c.pointsPerSec : undefined;
  const tLost = t?.verification?.ackedMissing;
  const targetMet = ratio === undefined ? undefined : ratio >= TARGET_RATIO;
  const everyRunCompleted = results.every((r) => r.completed);
  const ok = everyRunCompleted && (tLost ?? 0) === 0 && targetMet !== false;

  notes.push(
    'rates: "end-to-end" = min(messages acked in the window that are in InfluxDB at the end, points confirmed by InfluxDB in the window) ÷ window; the slower of the two stages is what the pipeline sustains.',
  );
  if (params.devices !== DEFAULTS.devices) notes.push(`--devices ${params.devices}: not the ${DEFAULTS.devices} the issue states.`);
  if (params.gatewayEnv.length > 0) notes.push(gatewayEnvNote(params.gatewayEnv));
  if (params.profile || params.gatewayNodeOptions.length > 0)
    notes.push('the gateway ran with extra node flags (a profiler costs it some throughput)');

  const col = (r: PipelineResult | undefined, f: (r: PipelineResult) => string): string =>
    r === undefined ? 'not run' : !r.completed ? `FAILED (${r.stage})` : f(r);
  const ratioOf = (x: number | undefined, y: number | undefined): string =>
    x === undefined || y === undefined || y === 0 ? '' : `${(x / y).toFixed(2)}×`;
  const pct = (x: number | undefined): string =>
    x === undefined || ceiling === undefined ? '' : ` (${((x / ceiling) * 100).toFixed(0)} % of ceiling)`;
  const cpuServer = (r: PipelineResult): string =>
    r.cores === undefined
      ? '–'
      : r.cores.subscriber !== undefined
        ? `${fmt2(r.cores.server)} + ${fmt2(r.cores.subscriber)} subscriber`
        : fmt2(r.cores.server);
  const rows: Row[] = [
    ['', 'tryggheim (a)', 'diy (b)', 'a/b'],
    [
      'end-to-end rate (acked ∧ stored)',
      col(t, (r) => fmtRate(r.rates?.endToEnd) + pct(r.rates?.endToEnd)),
      col(d, (r) => fmtRate(r.rates?.endToEnd) + pct(r.rates?.endToEnd)),
      ratio === undefined ? '' : `${ratio.toFixed(2)}×`,
    ],
    [
      'acked by the broker, in window',
      col(t, (r) => fmtRate(r.rates?.acked)),
      col(d, (r) => fmtRate(r.rates?.acked)),
      ratioOf(t?.rates?.acked, d?.rates?.acked),
    ],
    [
      'confirmed by InfluxDB, in window',
      col(t, (r) => fmtRate(r.rates?.stored)),
      col(d, (r) => fmtRate(r.rates?.stored)),
      ratioOf(t?.rates?.stored, d?.rates?.stored),
    ],
    [
      'PUBLISH→PUBACK p50 / p99',
      col(t, (r) => `${fmtMs(r.ackLatencyMs?.p50)} / ${fmtMs(r.ackLatencyMs?.p99)}`),
      col(d, (r) => `${fmtMs(r.ackLatencyMs?.p50)} / ${fmtMs(r.ackLatencyMs?.p99)}`),
      '',
    ],
    [
      'acked, all / missing in InfluxDB',
      col(t, (r) => `${r.verification?.ackedTotal ?? '–'} / ${r.verification?.ackedMissing ?? '–'}`),
      col(d, (r) => `${r.verification?.ackedTotal ?? '–'} / ${r.verification?.ackedMissing ?? '–'}`),
      '',
    ],
    [
      'backlog max (end of window)',
      col(t, (r) => `${r.backlog?.max ?? '–'} (${r.backlog?.atWindowEnd ?? '–'})`),
      col(d, (r) => `${r.backlog?.max ?? '–'} (${r.backlog?.atWindowEnd ?? '–'})`),
      '',
    ],
    [
      'stop → all stored',
      col(t, (r) => fmtS(r.drainMs) + (r.drainComplete === false ? ' INCOMPLETE' : '')),
      col(d, (r) => fmtS(r.drainMs) + (r.drainComplete === false ? ' INCOMPLETE' : '')),
      '',
    ],
    ['server CPU (cores, window)', col(t, cpuServer), col(d, cpuServer), ''],
    [
      'pipeline CPU per message (µs)',
      col(t, (r) => fmt0(r.cpuUsPerMessage?.pipeline)),
      col(d, (r) => fmt0(r.cpuUsPerMessage?.pipeline)),
      ratioOf(t?.cpuUsPerMessage?.pipeline, d?.cpuUsPerMessage?.pipeline),
    ],
    ['influxd CPU (cores, window)', col(t, (r) => fmt2(r.cores?.influxd)), col(d, (r) => fmt2(r.cores?.influxd)), ''],
    ['publisher workers CPU (cores)', col(t, (r) => fmt2(r.cores?.workers)), col(d, (r) => fmt2(r.cores?.workers)), ''],
    [
      'machine busy / others (cores)',
      col(t, (r) => `${fmt2(r.cores?.machineBusy)} / ${fmt2(r.cores?.others)}`),
      col(d, (r) => `${fmt2(r.cores?.machineBusy)} / ${fmt2(r.cores?.others)}`),
      '',
    ],
    [
      'server RSS end of window / peak',
      col(t, (r) => `${mb(r.rss?.serverAtWindowEnd)} / ${mb(r.rss?.serverPeak)}`),
      col(d, (r) => `${mb(r.rss?.serverAtWindowEnd)} / ${mb(r.rss?.serverPeak)}`),
      '',
    ],
    [
      'subscriber RSS end of window / peak',
      col(t, () => ''),
      col(d, (r) => `${mb(r.rss?.subscriberAtWindowEnd)} / ${mb(r.rss?.subscriberPeak)}`),
      '',
    ],
    ['payload, mean', col(t, (r) => `${fmt2(r.payloadBytesAvg)} B`), col(d, (r) => `${fmt2(r.payloadBytesAvg)} B`), ''],
  ];
  const lines: string[] = [];
  lines.push(
    `ingest: ${params.devices} devices, ${params.workers} publisher workers, window ${params.window} unacked QoS 1 publishes per device, ` +
      `warm-up ${params.warmupSec} s, measured ${params.durationSec} s`,
  );
  lines.push(machineLine(machine, { fdLimit: false }));
  lines.push(`influxd ${versions.influxd}; ${d?.server ?? (versions.mosquitto ? 'mosquitto' : 'no mosquitto')}`);
  lines.push('');
  if (c !== undefined) {
    lines.push(
      c.completed
        ? `ceiling (c): influxd raw /write, ${c.connections} connections, ${c.batchSize} pre-built lines per request (${fmt2(c.bytesPerLine)} B/line): ` +
            `${fmtRate(c.pointsPerSec)} points (${c.points ?? 0} in ${fmtS(c.ms)}, ${c.failedRequests ?? 0} failed requests, influxd ${fmt2(c.influxdCores)} cores, machine ${fmt2(c.machineBusy)} cores busy)`
        : `ceiling (c): FAILED at ${c.stage}: ${c.failure ?? ''}`,
    );
    lines.push('');
  }
  lines.push(...table(rows));
  lines.push('');
  for (const r of [t, d]) {
    if (r === undefined) continue;
    if (r.cores?.serverThreads) lines.push(`[${r.name}] gateway CPU by thread (cores): ${fmtCounts(r.cores.serverThreads)}`);
    if (r.metricsAtWindowEnd) lines.push(`[${r.name}] /metrics at the end of the window: ${fmtCounts(r.metricsAtWindowEnd)}`);
    if (r.verification) {
      const v = r.verification;
      lines.push(
        `[${r.name}] InfluxDB (${v.query}): ${v.storedRows} rows, ${v.storedDistinct} distinct (device, seq); acked ${v.ackedTotal}, of which stored ${v.ackedStored}, missing ${v.ackedMissing}; stored but never acked ${v.storedNotAcked}`,
      );
    }
    if (r.publishErrors && Object.keys(r.publishErrors).length > 0) lines.push(`[${r.name}] publish errors: ${fmtCounts(r.publishErrors)}`);
    if (r.serverLog && Object.keys(r.serverLog.events).length > 0)
      lines.push(`[${r.name}] server log events: ${fmtCounts(r.serverLog.events)}`);
    for (const w of r.warnings) lines.push(`[${r.name}] WARNING: ${w}`);
    if (!r.completed) lines.push(`[${r.name}] FAILED at ${r.stage}: ${r.failure ?? ''}`);
    if (r.serverLog?.tail) lines.push(`[${r.name}] server output tail:`, ...r.serverLog.tail.map((l) => `    ${l}`));
    if (r.samples.length > 1) {
      lines.push(`[${r.name}] over time (every ~2 s): t s | acked/s | stored/s | backlog | server cores | server RSS`);
      for (let i = 2; i < r.samples.length; i += 2) {
        const s = r.samples[i];
        const p = r.samples[i - 2];
        if (!s || !p) continue;
        const dt = s.t - p.t || 1;
        const st = (x: Sample): number => x.pointsWritten ?? x.written ?? 0;
        const backlog = s.journalEntries ?? Math.max(0, s.acked - (s.written ?? 0));
        const cores = (s.serverCpuMs - p.serverCpuMs + ((s.subscriberCpuMs ?? 0) - (p.subscriberCpuMs ?? 0))) / dt / 1000;
        lines.push(
          `    ${s.t.toFixed(0).padStart(4)} | ${fmtRate((s.acked - p.acked) / dt).padStart(9)} | ${fmtRate((st(s) - st(p)) / dt).padStart(9)} | ${String(backlog).padStart(7)} | ${fmt2(cores)} | ${mb(s.serverRss)}`,
        );
      }
    }
    if (r.profile) {
      lines.push(`[${r.name}] CPU profile (${r.profile.window} window) ${r.profile.file}:`);
      for (const l of formatSummary(r.profile.summary)) lines.push(`    ${l}`);
    }
  }
  lines.push('');
  if (ceiling !== undefined) lines.push(`ceiling (c): ${fmtRate(ceiling)} points`);
  lines.push(`tryggheim (a): ${fmtRate(a)}   diy (b): ${fmtRate(b)}   a/b: ${ratio === undefined ? '–' : ratio.toFixed(2)}`);
  if (ratio !== undefined) {
    lines.push(
      `target a/b ≥ ${TARGET_RATIO.toFixed(1)}: ${targetMet === true ? 'MET' : 'NOT MET'}${ratio < EXPLAIN_BELOW ? ` (below ${EXPLAIN_BELOW}: see the profile, run with --profile)` : ''}`,
    );
  }
  if (tLost !== undefined) lines.push(`tryggheim: every acked message stored: ${tLost === 0 ? 'yes' : `NO, ${tLost} missing`}`);
  for (const n of notes) lines.push(`note: ${n}`);

  const json = {
    bench: 'ingest',
    command: `npm run bench -- ingest ${process.argv.slice(3).join(' ')}`.trim(),
    machine,
    params,
    versions,
    diy: { subscriber: DIY, mosquitto: DIY_MOSQUITTO },
    ceiling: c ?? null,
    results: results.filter((r): r is PipelineResult => r.name !== 'ceiling'),
    rates: { tryggheim: a ?? null, diy: b ?? null, ratio: ratio ?? null, ceiling: ceiling ?? null },
    target: { ratio: TARGET_RATIO, met: targetMet ?? null, everyAckedStored: tLost === undefined ? null : tLost === 0 },
    notes,
    ok,
  };
  return { ok, lines, json };
}
