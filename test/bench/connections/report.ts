import { fmtCounts, fmtMs, fmtSeconds, gatewayEnvNote, machineLine, mb, table, type Row } from '../format.js';
import type { MachineInfo } from '../proc.js';
import type { BenchResult } from '../types.js';
import { DEFAULTS, TARGET, type Params, type TargetResult } from './params.js';

// The connections summary: one column per target and their ratio, per-target details, the target verdict.

export const fmtS = (ms: number | undefined): string => fmtSeconds(ms, 2);
export const fmtRate = (r: number | undefined): string => (r === undefined || Number.isNaN(r) ? '–' : `${r.toFixed(0)}/s`);
const fmtPct = (f: number | undefined): string => (f === undefined || Number.isNaN(f) ? '–' : `${(f * 100).toFixed(0)} %`);
const fmtCores = (c: TargetResult['machineCores']): string =>
  c === undefined ? '–' : `${c.busy.toFixed(2)}/${c.available.toFixed(0)}, others ${c.others.toFixed(2)}`;
const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 || Number.isNaN(a) || Number.isNaN(b) ? undefined : a / b;
const fmtRatio = (r: number | undefined): string => (r === undefined ? '–' : `${r.toFixed(2)}×`);

function peakRss(r: TargetResult | undefined): number | undefined {
  if (r === undefined) return undefined;
  const values = [r.rssHwm, r.rssPeakSampled].filter((v): v is number => v !== undefined && !Number.isNaN(v));
  return values.length === 0 ? undefined : Math.max(...values);
}

export function report(
  params: Params,
  machine: MachineInfo,
  results: TargetResult[],
  notes: string[],
  mosquittoBin: string | undefined,
): BenchResult {
  const t = results.find((r) => r.name === 'tryggheim');
  const m = results.find((r) => r.name === 'mosquitto');
  const ratios = {
    connectRate: ratio(t?.ratePerSec, m?.ratePerSec),
    timeToAll: ratio(t?.timeToAllMs, m?.timeToAllMs),
    connackP50: ratio(t?.connackMs?.p50, m?.connackMs?.p50),
    connackP99: ratio(t?.connackMs?.p99, m?.connackMs?.p99),
    rssConnected: ratio(t?.rssConnected, m?.rssConnected),
    rssPeak: ratio(peakRss(t), peakRss(m)),
    serverCpuPerConnection: ratio(t?.serverCpuMsPerConnection, m?.serverCpuMsPerConnection),
  };

  const allConnected = t?.completed === true && t.connected === params.devices;
  const withinTime = allConnected && t.timeToAllMs !== undefined && t.timeToAllMs <= TARGET.allConnectedWithinSec * 1000;
  const tPeak = peakRss(t);
  const rssOk = t?.completed === true && tPeak !== undefined && tPeak < TARGET.rssUnderBytes;
  const targetMet = t === undefined ? undefined : withinTime && rssOk;
  const everyRunCompleted = results.every((r) => r.completed);
  const ok = everyRunCompleted && targetMet !== false;

  notes.push(
    'mosquitto checks passwords with PBKDF2-SHA512 (101 iterations, mosquitto_passwd default); Tryggheim with one SHA-256 of a 256-bit random token: per-CONNECT auth cost differs, so the rate ratio is not an auth-for-auth comparison.',
  );
  if (params.devices !== DEFAULTS.devices) notes.push(`--devices ${params.devices}: not the 10,000 the target is stated for.`);
  if (params.gatewayEnv.length > 0) notes.push(gatewayEnvNote(params.gatewayEnv));
  if (params.gatewayNodeOptions.length > 0)
    notes.push(`gateway node flags: ${params.gatewayNodeOptions.join(' ')} (a profiler slows it down)`);
  if (params.gatewayLimits.connectRatePerSec !== 'default' || params.gatewayLimits.maxUnauthenticated !== 'default') {
    notes.push(
      `gateway admission limits overridden: connectRatePerSec=${params.gatewayLimits.connectRatePerSec}, maxUnauthenticated=${params.gatewayLimits.maxUnauthenticated}`,
    );
  }

  /** A row with the same figure for both targets. */
  const row = (label: string, f: (r: TargetResult) => string, ratioText = ''): Row => [
    label,
    t === undefined ? 'not run' : f(t),
    m === undefined ? 'not run' : f(m),
    ratioText,
  ];
  const rows: Row[] = [
    ['', 'tryggheim', 'mosquitto', 'T/M'],
    row('server', (r) => r.version ?? ''),
    row('completed', (r) => (r.completed ? 'yes' : `NO (${r.stage})`)),
    row('connected', (r) => `${r.connected}/${r.devices}`),
    row('attempts', (r) => String(r.attempts)),
    row('time until all connected', (r) => fmtS(r.timeToAllMs), fmtRatio(ratios.timeToAll)),
    row('connect rate (mean)', (r) => fmtRate(r.ratePerSec), fmtRatio(ratios.connectRate)),
    row('connect rate (best 1 s)', (r) => fmtRate(r.peakRatePerSec)),
    row('CONNECT→CONNACK p50', (r) => fmtMs(r.connackMs?.p50), fmtRatio(ratios.connackP50)),
    row('CONNECT→CONNACK p99', (r) => fmtMs(r.connackMs?.p99), fmtRatio(ratios.connackP99)),
    row('CONNECT→CONNACK max', (r) => fmtMs(r.connackMs?.max)),
    row('TCP handshake p50', (r) => fmtMs(r.tcpConnectMs?.p50)),
    row('TCP handshake p99', (r) => fmtMs(r.tcpConnectMs?.p99)),
    row('SYN→CONNACK p99', (r) => fmtMs(r.attemptToConnackMs?.p99)),
    row('server CPU, connect phase', (r) => fmtS(r.serverCpuMs)),
    row('server CPU per connection', (r) => fmtMs(r.serverCpuMsPerConnection), fmtRatio(ratios.serverCpuPerConnection)),
    row('server main thread busy', (r) => fmtPct(r.serverMainThreadBusy)),
    row('machine busy (cores)', (r) => fmtCores(r.machineCores)),
    row('client workers CPU', (r) => fmtS(r.clientCpuMs)),
    row('RSS idle', (r) => mb(r.rssIdle)),
    row('RSS all connected', (r) => mb(r.rssConnected), fmtRatio(ratios.rssConnected)),
    row('RSS peak (VmHWM)', (r) => mb(peakRss(r)), fmtRatio(ratios.rssPeak)),
    row('RSS after clients closed', (r) => mb(r.rssAfterClose)),
    row('closing all clients', (r) => fmtS(r.clientsCloseMs)),
    row('SIGTERM → exit', (r) => (r.shutdown ? `${fmtS(r.shutdown.ms)}${r.shutdown.killed ? ' (KILLED)' : ''}` : '–')),
  ];
  const lines: string[] = [];
  lines.push(
    `connections: ${params.devices} devices, ${params.workers} client workers, ${params.concurrency} attempts in flight, up to ${params.retries} retries per device`,
  );
  lines.push(machineLine(machine, { fdLimit: true }));
  lines.push('');
  lines.push(...table(rows));
  lines.push('');
  for (const r of results) {
    lines.push(
      `[${r.name}] failed attempts by reason (client side): ${fmtCounts(r.refusals)}; gave up: ${fmtCounts(r.gaveUp)}; dropped after CONNACK: ${r.droppedAfterConnect}`,
    );
    if (r.serverThreadCpuMs) lines.push(`[${r.name}] server CPU by thread during connect (ms): ${fmtCounts(r.serverThreadCpuMs)}`);
    if (r.tcp && Object.keys(r.tcp).length > 0)
      lines.push(`[${r.name}] kernel TCP counters during connect (whole netns): ${fmtCounts(r.tcp)}`);
    for (const w of r.warnings) lines.push(`[${r.name}] WARNING: ${w}`);
    if (r.metrics) lines.push(`[${r.name}] /metrics with all connected: ${fmtCounts(r.metrics)}`);
    if (r.serverLog && Object.keys(r.serverLog.events).length > 0)
      lines.push(`[${r.name}] server warnings: ${fmtCounts(r.serverLog.events)}`);
    if (!r.completed) lines.push(`[${r.name}] FAILED at ${r.stage}: ${r.failure ?? ''}`);
    if (r.serverLog?.tail) lines.push(`[${r.name}] server output tail:`, ...r.serverLog.tail.map((l) => `    ${l}`));
  }
  if (t !== undefined) {
    lines.push(
      `target (${params.devices} devices): all connected within ${TARGET.allConnectedWithinSec} s: ${withinTime ? 'MET' : 'NOT MET'} (${allConnected ? fmtS(t.timeToAllMs) : `${t.connected}/${params.devices} connected`}); ` +
        `RSS under ${mb(TARGET.rssUnderBytes)}: ${rssOk ? 'MET' : 'NOT MET'} (peak ${mb(tPeak)})`,
    );
  }
  for (const n of notes) lines.push(`note: ${n}`);

  const json = {
    bench: 'connections',
    command: `npm run bench -- connections ${process.argv.slice(3).join(' ')}`.trim(),
    machine,
    params,
    mosquitto: mosquittoBin ?? null,
    results,
    ratios,
    target: {
      allConnectedWithinSec: TARGET.allConnectedWithinSec,
      rssUnderBytes: TARGET.rssUnderBytes,
      allConnected,
      withinTime,
      rssOk,
      met: targetMet ?? null,
    },
    notes,
    ok,
  };
  return { ok, lines, json };
}
