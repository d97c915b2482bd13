import { fmtCounts, gatewayEnvNote, machineLine, mb } from '../format.js';
import type { MachineInfo } from '../proc.js';
import type { BenchResult } from '../types.js';
import { DEFAULTS, DOOR_MINUTES, GOALS, type Params } from './params.js';
import { quantilesOf, type Alarm, type AlarmSummary, type AlertsResult, type Quantiles } from './results.js';

// The alerts summary: the background load it ran under, fall latency and door-timer lateness with their
// parts, the stream's health, and the verdict against the goals.

const MINUTE = 60_000;

function summarize(alarms: readonly Alarm[], kind: 'fall' | 'door'): AlarmSummary {
  const mine = alarms.filter((a) => a.kind === kind);
  const published = mine.filter((a) => a.publishedAt !== undefined);
  const due = (a: Alarm): number => (a.publishedAt ?? NaN) + DOOR_MINUTES * MINUTE;
  const list = (f: (a: Alarm) => number | undefined, from: readonly Alarm[] = published): Quantiles | undefined =>
    quantilesOf(from.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const received = published.filter((a) => a.receivedAt !== undefined);
  return {
    planned: mine.length,
    published: published.length,
    acked: published.filter((a) => a.ackedAt !== undefined).length,
    received: received.length,
    missing: mine.filter((a) => a.receivedAt === undefined).map((a) => (kind === 'fall' ? a.deviceId : a.homeId)),
    latencyMs: list((a) => (a.receivedAt === undefined ? undefined : a.receivedAt - (kind === 'fall' ? (a.publishedAt ?? NaN) : due(a)))),
    ackMs: list((a) => (a.ackedAt === undefined ? undefined : a.ackedAt - (a.publishedAt ?? NaN))),
    // The gateway's clock (ms) against the device's `ts` (its Date.now()), both the machine's wall clock.
    toRuleMs: list((a) =>
      a.transitionAt === undefined || a.ts === undefined
        ? undefined
        : a.transitionAt - (a.ts + (kind === 'fall' ? 0 : DOOR_MINUTES * MINUTE)),
    ),
    ruleToStreamMs: list((a) => (a.receivedAt === undefined || a.transitionAt === undefined ? undefined : a.receivedAt - a.transitionAt)),
    publisherLateMs: list((a) => a.publisherLateMs),
  };
}

const f1 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(1));
const f2 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(2));
const rate = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : `${Math.round(v).toLocaleString('en-US')}/s`);
const q4 = (q: Quantiles | undefined): string =>
  q === undefined ? '–' : `${f1(q.p50)} / ${f1(q.p95)} / ${f1(q.p99)} / ${f1(q.max)} ms (n ${q.n})`;

export function report(
  params: Params,
  machine: MachineInfo,
  r: AlertsResult,
  versions: { influxd: string },
  loadBefore: number[],
): BenchResult {
  const falls = summarize(r.alarms, 'fall');
  const doors = { ...summarize(r.alarms, 'door'), doorMinutes: DOOR_MINUTES };
  r.falls = falls;
  r.doors = doors;
  const notes: string[] = [];
  const w = r.window;

  const everyFall = falls.received === falls.planned;
  const everyDoor = doors.received === doors.planned;
  const fallP99 = falls.latencyMs?.p99;
  const lateMax = doors.latencyMs?.max;
  const fallGoal = fallP99 === undefined ? undefined : fallP99 <= GOALS.fallP99Ms;
  const doorGoal = doors.planned === 0 ? undefined : lateMax === undefined ? false : lateMax <= GOALS.lateness;
  const loadReached = params.rate === 0 ? true : w !== undefined && w.journaledPerSec >= GOALS.rateShare * params.rate;
  const ok = r.completed && everyFall && everyDoor && fallGoal !== false && doorGoal !== false && loadReached;

  if (
    params.devices !== DEFAULTS.devices ||
    params.rate !== DEFAULTS.rate ||
    params.falls !== DEFAULTS.falls ||
    params.doors !== DEFAULTS.doors
  )
    notes.push(`not the issue's setting (${DEFAULTS.devices} devices, ${DEFAULTS.rate} msg/s, ${DEFAULTS.falls} falls).`);
  if (params.fromEnv.length > 0) notes.push(`from the environment: ${params.fromEnv.join(' ')}`);
  if (params.gatewayEnv.length > 0) notes.push(gatewayEnvNote(params.gatewayEnv));
  if (params.gatewayNodeOptions.length > 0) notes.push(`gateway node flags: ${params.gatewayNodeOptions.join(' ')}`);
  notes.push(
    "times: epoch ms from performance.timeOrigin + performance.now() in the publisher and the bench (same machine); \"rule ran\" is the transition's `at`, the gateway's Date.now() (ms), taken against the payload's `ts` (the publisher's Date.now()).",
  );

  const lines: string[] = [];
  lines.push(
    `alerts: ${params.devices} background devices at ${rate(params.rate)} QoS 1 (${params.workers} workers, window ${params.window}), ` +
      `${params.falls} falls over ${params.durationSec} s, ${params.doors} doors left open (door-left-open ${DOOR_MINUTES} min), warm-up ${params.warmupSec} s`,
  );
  lines.push(machineLine(machine, { fdLimit: false }));
  lines.push(
    `influxd ${versions.influxd}; ${r.gateway ?? 'gateway not started'}; load average before the run ${loadBefore.map((v) => v.toFixed(2)).join(' ')}`,
  );
  lines.push('');
  if (w !== undefined) {
    const c = w.cores;
    lines.push(
      `background, measured window ${(w.ms / 1000).toFixed(1)} s: journaled ${rate(w.journaledPerSec)}, stored in InfluxDB ${rate(w.storedPerSec)}, ` +
        `telemetry acked ${rate(w.telemetryAckedPerSec)}; journal max ${r.journalMax ?? '–'} entries`,
    );
    lines.push(
      `  telemetry PUBACK p50 / p99 / max ${f1(r.telemetry?.ackMs?.p50)} / ${f1(r.telemetry?.ackMs?.p99)} / ${f1(r.telemetry?.ackMs?.max)} ms; ` +
        `published ${r.telemetry?.published ?? '–'}, acked ${r.telemetry?.acked ?? '–'}, failed ${r.telemetry?.failed ?? '–'}`,
    );
    lines.push(
      `  cores: gateway ${f2(c.gateway)} (${fmtCounts(c.gatewayThreads)}), influxd ${f2(c.influxd)}, telemetry workers ${f2(c.telemetryWorkers)}, ` +
        `alarm publisher ${f2(c.alarmPublisher)}, bench ${f2(c.bench)}; machine busy ${f2(c.machineBusy)} of ${machine.nproc}, others ${f2(c.others)}, steal ${f2(c.steal)}`,
    );
    lines.push(
      `  gateway event-loop delay (1 s scrapes): p99 mean ${f1(r.eventLoop?.meanP99Ms)} ms, max ${f1(r.eventLoop?.maxMs)} ms; ` +
        `RSS end of window ${mb(r.rss?.gatewayAtWindowEnd)}, peak ${mb(r.rss?.gatewayPeak)}`,
    );
    lines.push('');
  }
  lines.push(
    `falls: ${falls.received}/${falls.planned} raised alerts on the stream (${falls.published} published, ${falls.acked} acked)   p50 / p95 / p99 / max`,
  );
  lines.push(`  publish → SSE received        ${q4(falls.latencyMs)}`);
  lines.push(`  publish → PUBACK              ${q4(falls.ackMs)}`);
  lines.push(`  publish → rule ran (ms clock) ${q4(falls.toRuleMs)}`);
  lines.push(`  rule ran → SSE received       ${q4(falls.ruleToStreamMs)}`);
  if (doors.planned > 0) {
    lines.push(
      `doors: ${doors.received}/${doors.planned} door-left-open alerts on the stream (${doors.published} published, ${doors.acked} acked)`,
    );
    lines.push(`  lateness: SSE received − (open published + ${DOOR_MINUTES} min)  ${q4(doors.latencyMs)}`);
    lines.push(`  timer due → rule ran (ms clock)                  ${q4(doors.toRuleMs)}`);
    lines.push(`  rule ran → SSE received                          ${q4(doors.ruleToStreamMs)}`);
  }
  const pl = quantilesOf([
    ...(falls.publisherLateMs ? [falls.publisherLateMs.max] : []),
    ...(doors.publisherLateMs ? [doors.publisherLateMs.max] : []),
  ]);
  if (pl !== undefined)
    lines.push(`  (the publisher's timers sent the alarms up to ${f1(pl.max)} ms after their scheduled moment; not part of the figures)`);
  if (r.stream) {
    const s = r.stream;
    lines.push(
      `stream: ${s.connects} connection${s.connects === 1 ? '' : 's'}${s.connects > 1 ? ` (RECONNECTED: ${fmtCounts(s.endings)})` : ''}, ${s.events} events, ` +
        `${(s.bytes / 1e6).toFixed(2)} MB; duplicates ${s.duplicates}, resets ${s.resets}; transitions ${fmtCounts(s.transitions)}`,
    );
  }
  if (r.openAfter) lines.push(`open alerts after the run (GET /api/v1/alerts): ${fmtCounts(r.openAfter)}`);
  if (falls.missing.length > 0)
    lines.push(`MISSING falls: ${falls.missing.slice(0, 20).join(', ')}${falls.missing.length > 20 ? ' …' : ''}`);
  if (doors.missing.length > 0)
    lines.push(`MISSING doors: ${doors.missing.slice(0, 20).join(', ')}${doors.missing.length > 20 ? ' …' : ''}`);
  if (r.shutdown?.killed === true)
    lines.push(`WARNING: the gateway did not stop within ${(r.shutdown.ms / 1000).toFixed(0)} s of SIGTERM and was SIGKILLed`);
  if (r.serverLog && Object.keys(r.serverLog.events).length > 0) lines.push(`gateway log events: ${fmtCounts(r.serverLog.events)}`);
  for (const warning of r.warnings) lines.push(`WARNING: ${warning}`);
  if (!r.completed) lines.push(`FAILED at ${r.stage}: ${r.failure ?? ''}`);
  if (r.serverLog?.tail) lines.push('gateway output tail:', ...r.serverLog.tail.map((l) => `    ${l}`));
  lines.push('');
  lines.push(
    `goal fall publish → SSE p99 ≤ ${GOALS.fallP99Ms} ms: ${fallGoal === undefined ? 'not measured' : fallGoal ? 'MET' : 'NOT MET'} (${f1(fallP99)} ms)`,
  );
  if (doors.planned > 0)
    lines.push(
      `goal door-left-open lateness ≤ ${GOALS.lateness / 1000} s, every door: ${doorGoal === true ? 'MET' : 'NOT MET'} (max ${f1(lateMax)} ms)`,
    );
  lines.push(
    `every alarm arrived: ${everyFall && everyDoor ? 'yes' : 'NO'} (falls ${falls.received}/${falls.planned}, doors ${doors.received}/${doors.planned})`,
  );
  if (params.rate > 0)
    lines.push(
      `background load reached (≥ ${GOALS.rateShare * 100} % of ${rate(params.rate)}): ${loadReached ? 'yes' : 'NO — the figures are not under the stated load'} (${rate(w?.journaledPerSec)})`,
    );
  for (const n of notes) lines.push(`note: ${n}`);

  const json = {
    bench: 'alerts',
    command: `npm run bench -- alerts ${process.argv.slice(3).join(' ')}`.trim(),
    machine,
    loadBefore,
    params,
    versions,
    goals: GOALS,
    verdict: { fallP99: fallGoal ?? null, doorLateness: doorGoal ?? null, everyFall, everyDoor, loadReached },
    result: { ...r, alarms: undefined },
    alarms: r.alarms,
    notes,
    summary: lines,
    ok,
  };
  return { ok, lines, json };
}
