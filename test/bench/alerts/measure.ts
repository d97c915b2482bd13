import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { prng } from '../../../simulators/load/native-payload.js';
import { fmtCounts } from '../format.js';
import { enter, orDeathOf, say, serverLogOf, stopServer, stoppedLine } from '../phase.js';
import { cpuTimeOf, exited, httpStatus, machineCpu, memoryOf, nowMs, sleep, threadCpuOf } from '../proc.js';
import { parseMetrics, startGatewayProcess } from '../servers.js';
import type { ScheduledEvent } from './events-worker.js';
import { DATABASE, DOOR_DEADLINE_MARGIN_MS, DOOR_MINUTES, PUBLISH_STOP_DRAIN_MS, TEAM_ID, type AlertsPhase } from './params.js';
import type { District } from './provision.js';
import { type Alarm, type AlertsResult, type Mark, type Sample } from './results.js';
import { openAlertStream, type SseEvent } from './sse-client.js';
import { startEventsWorker, startTelemetryWorkers } from './workers.js';

// One run from start to stop: the gateway (its own process, production config, InfluxDB configured), the
// dashboard's SSE stream, background telemetry at a fixed rate, then the falls and door openings at random
// moments of the measured window; the run waits for every expected alert (or the grace time), stops the load,
// reads the open alerts back over HTTP and stops the gateway.

const METRICS = [
  'tryggheim_ingest_messages_total',
  'tryggheim_ingest_points_written_total',
  'tryggheim_journal_entries',
  'tryggheim_ingest_dead_letters_total',
  'tryggheim_ingest_write_failures_total',
  'tryggheim_mqtt_clients',
  'tryggheim_nodejs_eventloop_lag_max_seconds',
];
/** parseMetrics (../servers.ts) takes names of letters and underscores only. */
const LAG_P99 = /^tryggheim_nodejs_eventloop_lag_p99_seconds (\S+)$/m;

interface AlertMessage {
  transition: { type: string; rule: string; subject: string; homeId: string | null; at: string };
  alert: { id: string };
}

export async function measureAlerts(ctx: AlertsPhase, dataDir: string, district: District, result: AlertsResult): Promise<void> {
  const { params } = ctx;
  const eventDevices = [...district.fallSensors, ...district.locks];

  // ── The alarms, scheduled before anything runs (seeded: the same moments every run) ─────────────────────
  const rand = prng(20261124);
  const windowMs = params.durationSec * 1000;
  const doorOpenSpanMs = Math.max(0, windowMs - DOOR_MINUTES * 60_000 - DOOR_DEADLINE_MARGIN_MS);
  const offsets: { device: number; type: ScheduledEvent['type']; offset: number }[] = [];
  const alarms: Alarm[] = result.alarms;
  district.fallSensors.forEach((d, i) => {
    offsets.push({ device: i, type: 'alarm.fall', offset: rand() * windowMs });
    alarms.push({ kind: 'fall', deviceId: d.id, homeId: d.homeId, scheduledAt: NaN });
  });
  district.locks.forEach((d, i) => {
    offsets.push({ device: district.fallSensors.length + i, type: 'lock.opened', offset: rand() * doorOpenSpanMs });
    alarms.push({ kind: 'door', deviceId: d.id, homeId: d.homeId, scheduledAt: NaN });
  });
  const fallBySubject = new Map(district.fallSensors.map((d, i) => [d.id, alarms[i]]));
  const doorByHome = new Map(district.locks.map((d, i) => [d.homeId, alarms[district.fallSensors.length + i]]));

  // ── Gateway ─────────────────────────────────────────────────────────────────────────────────────────────
  enter(ctx, 'starting the gateway');
  const env: Record<string, string> = {
    TRYGGHEIM_INFLUX__URL: ctx.influxd.url,
    TRYGGHEIM_INFLUX__API_VERSION: 'v1',
    TRYGGHEIM_INFLUX__DATABASE: DATABASE,
    ...Object.fromEntries(params.gatewayEnv),
  };
  const totalDevices = district.background.length + eventDevices.length;
  const gw = await startGatewayProcess(ctx, { dataDir, nodeOptions: params.gatewayNodeOptions, env, fdLimit: totalDevices + 512 });
  result.gateway = `tryggheim (node ${process.version}${params.gatewayNodeOptions.length > 0 ? ` ${params.gatewayNodeOptions.join(' ')}` : ''})`;
  result.startToReadyMs = gw.startToReadyMs;
  const httpPort = await httpPortOf(gw.pid, gw.port);
  say(ctx, `gateway ready (pid ${gw.pid}, MQTT ${gw.port}, HTTP ${httpPort}) after ${(gw.startToReadyMs / 1000).toFixed(1)} s`);
  const orDeath = orDeathOf(gw.child, gw.log);
  const metrics = async (): Promise<Record<string, number>> => {
    const text = await gw.metricsText();
    return { ...parseMetrics(text, METRICS), lagP99: Number(LAG_P99.exec(text)?.[1] ?? NaN) };
  };
  let stopped = false;
  try {
    // ── The dashboard's stream ────────────────────────────────────────────────────────────────────────────
    enter(ctx, 'opening the alert stream');
    const base = `http://127.0.0.1:${httpPort}/api/v1/alerts`;
    const authorization = `Basic ${Buffer.from(`${district.serviceAccount.id}:${district.serviceAccount.secret}`).toString('base64')}`;
    const transitions: Record<string, number> = {};
    let duplicates = 0;
    let resets = 0;
    // Set by callbacks; an object so that the waits below read the current value.
    const seen = { hello: false };
    let fallsIn = 0;
    let doorsIn = 0;
    const onEvent = (e: SseEvent): void => {
      if (e.event === 'hello') {
        seen.hello = true;
        return;
      }
      if (e.event === 'reset') {
        resets += 1;
        return;
      }
      if (e.event !== 'alert') return;
      const msg = JSON.parse(e.data) as AlertMessage;
      const t = msg.transition;
      const key = `${t.rule}:${t.type}`;
      transitions[key] = (transitions[key] ?? 0) + 1;
      if (t.type !== 'raised') return;
      const alarm =
        t.rule === 'fall' ? fallBySubject.get(t.subject) : t.rule === 'door-left-open' ? doorByHome.get(t.homeId ?? '') : undefined;
      if (alarm === undefined) return;
      if (alarm.receivedAt !== undefined) {
        duplicates += 1;
        return;
      }
      alarm.receivedAt = e.receivedAt;
      alarm.transitionAt = Date.parse(t.at);
      alarm.alertId = msg.alert.id;
      if (alarm.kind === 'fall') fallsIn += 1;
      else doorsIn += 1;
    };
    const stream = openAlertStream({ url: `${base}/stream?team=${TEAM_ID}`, authorization, onEvent });
    try {
      await orDeath(
        Promise.race([stream.opened, sleep(10_000).then(() => Promise.reject(new Error('the alert stream did not open in 10 s')))]),
      );
      for (let i = 0; i < 50 && !seen.hello; i++) await sleep(100);
      if (!seen.hello) throw new Error('the alert stream sent no `hello` event');
      say(ctx, `alert stream open as service account ${district.serviceAccount.id} (team ${TEAM_ID})`);

      // ── Publishers ──────────────────────────────────────────────────────────────────────────────────────
      enter(ctx, 'connecting publishers');
      const url = `mqtt://127.0.0.1:${gw.port}`;
      const telemetry = startTelemetryWorkers(ctx, url, district.background);
      const events = startEventsWorker(
        ctx,
        url,
        eventDevices.map((d) => ({ id: d.id, secret: d.secret })),
      );
      const [reports, ev] = await orDeath(Promise.all([Promise.all(telemetry.map((w) => w.connected)), events.connected]));
      const connect = { connected: 0, failed: 0, failures: {} as Record<string, number>, ms: 0 };
      for (const r of [...reports, ev.report]) {
        connect.connected += r.connected;
        connect.failed += r.failed;
        connect.ms = Math.max(connect.ms, r.elapsedMs);
        for (const [k, v] of Object.entries(r.failures)) connect.failures[k] = (connect.failures[k] ?? 0) + v;
      }
      result.connect = connect;
      result.clock = { benchMinusDateMs: nowMs() - Date.now(), publisherMinusDateMs: ev.clockOffsetMs };
      say(ctx, `${connect.connected}/${totalDevices} devices connected in ${(connect.ms / 1000).toFixed(1)} s`);
      if (connect.failed > 0) throw new Error(`${connect.failed} devices could not connect (${fmtCounts(connect.failures)})`);
      await sleep(1000);

      // ── Readings ────────────────────────────────────────────────────────────────────────────────────────
      const workerPids = telemetry.map((w) => w.child.pid ?? 0);
      const telemetryCpu = (): number => workerPids.reduce((n, pid) => n + (cpuTimeOf(pid) ?? 0), 0);
      const telemetryAcked = (): number => telemetry.reduce((n, w) => n + w.progress.acked, 0);
      const benchCpu = (): number => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      };
      const mark = async (): Promise<Mark> => {
        const m = await orDeath(metrics());
        return {
          at: nowMs(),
          monoUs: Number(process.hrtime.bigint() / 1000n),
          gatewayCpuMs: cpuTimeOf(gw.pid) ?? NaN,
          gatewayThreads: threadCpuOf(gw.pid),
          influxdCpuMs: cpuTimeOf(ctx.influxd.pid) ?? NaN,
          telemetryCpuMs: telemetryCpu(),
          eventsCpuMs: cpuTimeOf(events.child.pid ?? 0) ?? NaN,
          benchCpuMs: benchCpu(),
          machine: machineCpu(),
          journaled: m.tryggheim_ingest_messages_total ?? 0,
          stored: m.tryggheim_ingest_points_written_total ?? 0,
          telemetryAcked: telemetryAcked(),
        };
      };

      enter(ctx, 'publishing');
      const goAt = nowMs();
      if (params.rate > 0) for (const w of telemetry) w.send({ type: 'go' });
      const samples: Sample[] = result.samples;
      let lagP99Sum = 0;
      let lagMax = 0;
      let lagN = 0;
      const flags = { inWindow: false, sampling: true };
      const sampler = (async () => {
        let n = 0;
        while (flags.sampling && !ctx.aborted) {
          const t0 = performance.now();
          const m = await metrics().catch(() => undefined);
          if (m !== undefined) {
            const s: Sample = {
              t: Math.round((nowMs() - goAt) / 100) / 10,
              journaled: m.tryggheim_ingest_messages_total ?? 0,
              stored: m.tryggheim_ingest_points_written_total ?? 0,
              journalEntries: m.tryggheim_journal_entries ?? 0,
              gatewayCpuMs: cpuTimeOf(gw.pid) ?? NaN,
              gatewayRss: memoryOf(gw.pid)?.rss ?? NaN,
              falls: fallsIn,
              doors: doorsIn,
            };
            samples.push(s);
            if (flags.inWindow) {
              lagP99Sum += Number.isFinite(m.lagP99) ? (m.lagP99 ?? 0) : 0;
              lagMax = Math.max(lagMax, m.tryggheim_nodejs_eventloop_lag_max_seconds ?? 0);
              lagN += 1;
            }
            const prev = samples.at(-6);
            if (++n % 5 === 0 && prev !== undefined) {
              const dt = s.t - prev.t || 1;
              say(
                ctx,
                `${s.t.toFixed(0)} s: journaled ${Math.round((s.journaled - prev.journaled) / dt)}/s, stored ${Math.round((s.stored - prev.stored) / dt)}/s, ` +
                  `journal ${s.journalEntries}, gateway ${((s.gatewayCpuMs - prev.gatewayCpuMs) / dt / 1000).toFixed(2)} cores; ` +
                  `falls ${fallsIn}/${district.fallSensors.length}, doors ${doorsIn}/${district.locks.length} on the stream`,
              );
            }
          }
          await sleep(Math.max(0, 1000 - (performance.now() - t0)));
        }
      })();

      try {
        await orDeath(sleep(params.warmupSec * 1000));
        // One second for the schedule to reach the publisher.
        const base0 = nowMs() + 1000;
        const scheduled: ScheduledEvent[] = offsets.map((o) => ({ device: o.device, type: o.type, at: base0 + o.offset }));
        scheduled.forEach((s, i) => {
          const alarm = alarms[i];
          if (alarm) alarm.scheduledAt = s.at;
        });
        result.schedule = { base: base0, windowMs, doorOpenSpanMs };
        events.schedule(scheduled);
        say(
          ctx,
          `warm-up over: ${district.fallSensors.length} falls over the next ${params.durationSec} s, ${district.locks.length} doors opened in the first ${(doorOpenSpanMs / 1000).toFixed(0)} s (deadline +${DOOR_MINUTES} min)`,
        );
        await orDeath(sleep(Math.max(0, base0 - nowMs())));
        const m0 = await mark();
        flags.inWindow = true;
        await orDeath(sleep(Math.max(0, base0 + windowMs - nowMs())));
        const m1 = await mark();
        flags.inWindow = false;
        const m1Rss = memoryOf(gw.pid)?.rss;

        // Every alert expected by now; the load keeps running while the stragglers are waited for.
        enter(ctx, 'waiting for the last alerts');
        const graceEnd = nowMs() + params.graceSec * 1000;
        const expected = (): number => alarms.filter((a) => a.publishFailed === undefined).length;
        while (fallsIn + doorsIn < expected() && nowMs() < graceEnd) await orDeath(sleep(100));
        if (fallsIn + doorsIn < expected())
          result.warnings.push(`${expected() - fallsIn - doorsIn} alerts had not arrived ${params.graceSec} s after the window`);

        enter(ctx, 'stopping publishers');
        for (const w of telemetry) w.send({ type: 'stop', drainMs: PUBLISH_STOP_DRAIN_MS });
        const done = await orDeath(Promise.all(telemetry.map((w) => w.stopped)));
        flags.sampling = false;
        await sampler;

        // ── Window figures ────────────────────────────────────────────────────────────────────────────────
        const ms = m1.at - m0.at;
        const cores = (a: number, b: number): number => (b - a) / ms;
        const threads = Object.fromEntries(
          Object.entries(m1.gatewayThreads)
            .map(([k, v]) => [k, cores(m0.gatewayThreads[k] ?? 0, v)] as const)
            .filter(([, v]) => v > 0.005)
            .map(([k, v]) => [k, Math.round(v * 100) / 100]),
        );
        const w: NonNullable<AlertsResult['window']> = {
          ms,
          monoUs: { from: m0.monoUs, to: m1.monoUs },
          journaledPerSec: (m1.journaled - m0.journaled) / (ms / 1000),
          storedPerSec: (m1.stored - m0.stored) / (ms / 1000),
          telemetryAckedPerSec: (m1.telemetryAcked - m0.telemetryAcked) / (ms / 1000),
          cores: {
            gateway: cores(m0.gatewayCpuMs, m1.gatewayCpuMs),
            gatewayThreads: threads,
            influxd: cores(m0.influxdCpuMs, m1.influxdCpuMs),
            telemetryWorkers: cores(m0.telemetryCpuMs, m1.telemetryCpuMs),
            alarmPublisher: cores(m0.eventsCpuMs, m1.eventsCpuMs),
            bench: cores(m0.benchCpuMs, m1.benchCpuMs),
          },
        };
        if (m0.machine && m1.machine) {
          const busy = cores(m0.machine.busy, m1.machine.busy);
          const c = w.cores;
          w.cores.machineBusy = busy;
          w.cores.others = Math.max(0, busy - (c.gateway + c.influxd + c.telemetryWorkers + c.alarmPublisher + c.bench));
          w.cores.steal = cores(m0.machine.steal, m1.machine.steal);
        }
        result.window = w;
        result.journalMax = Math.max(0, ...samples.map((s) => s.journalEntries));
        result.rss = {
          gatewayAtWindowEnd: m1Rss,
          gatewayPeak: Math.max(0, ...samples.map((s) => s.gatewayRss || 0), memoryOf(gw.pid)?.hwm ?? 0),
        };
        if (lagN > 0) result.eventLoop = { meanP99Ms: (lagP99Sum / lagN) * 1000, maxMs: lagMax * 1000, samples: lagN };
        const counters = done.reduce(
          (a, d) => ({
            published: a.published + d.counters.published,
            acked: a.acked + d.counters.acked,
            failed: a.failed + d.counters.failed,
            dropped: a.dropped + d.counters.dropped,
          }),
          { published: 0, acked: 0, failed: 0, dropped: 0 },
        );
        const errors: Record<string, number> = {};
        for (const d of done) for (const [k, v] of Object.entries(d.errors)) errors[k] = (errors[k] ?? 0) + v;
        // Telemetry PUBACK latency: the slowest worker's quantiles (they share one gateway).
        const ack = done.map((d) => d.ackMs).filter((a) => a !== undefined);
        result.telemetry = {
          ...counters,
          unackedAtStop: done.reduce((n, d) => n + d.unacked, 0),
          errors,
          ackMs:
            ack.length === 0
              ? undefined
              : {
                  p50: Math.max(...ack.map((a) => a.p50)),
                  p99: Math.max(...ack.map((a) => a.p99)),
                  max: Math.max(...ack.map((a) => a.max)),
                },
        };
        if (counters.dropped > 0)
          result.warnings.push(`${counters.dropped} telemetry connections were closed by the server (${fmtCounts(errors)})`);

        // ── What the publisher saw, and the store's view ──────────────────────────────────────────────────
        for (const [device, r] of events.records) {
          const alarm = alarms[device];
          if (alarm === undefined) continue;
          if (r.publishedAt !== undefined) alarm.publishedAt = r.publishedAt;
          if (r.ts !== undefined) alarm.ts = r.ts;
          if (r.ackedAt !== undefined) alarm.ackedAt = r.ackedAt;
          if (r.failed !== undefined) alarm.publishFailed = r.failed;
          if (r.lateMs !== undefined) alarm.publisherLateMs = r.lateMs;
        }
        if (Object.keys(events.dropped).length > 0)
          result.warnings.push(`alarm publisher connections closed by the server: ${fmtCounts(events.dropped)}`);

        enter(ctx, 'reading the open alerts');
        const res = await fetch(`${base}?team=${TEAM_ID}`, { headers: { authorization }, signal: AbortSignal.timeout(10_000) });
        if (res.ok) {
          const body = (await res.json()) as { alerts: { rule: string }[] };
          const open: Record<string, number> = {};
          for (const a of body.alerts) open[a.rule] = (open[a.rule] ?? 0) + 1;
          result.openAfter = open;
        } else {
          result.warnings.push(`GET /api/v1/alerts answered ${res.status}`);
        }
      } finally {
        flags.sampling = false;
        await sampler;
      }
      result.stream = { ...stream.stats(), transitions, duplicates, resets };

      enter(ctx, 'closing publishers');
      for (const w of telemetry) w.send({ type: 'close' });
      await orDeath(Promise.all([...telemetry.map((w) => w.closed), events.close()]));
      await Promise.all([...telemetry.map((w) => exited(w.child)), exited(events.child)]);
    } finally {
      stream.close();
    }

    enter(ctx, 'stopping the gateway');
    result.shutdown = await stopServer(gw.child, 30_000);
    stopped = true;
    result.serverLog = serverLogOf(gw.log(), result.shutdown);
    say(
      ctx,
      stoppedLine(result.shutdown, (ms) => `${(ms / 1000).toFixed(1)} s`),
    );
  } finally {
    if (!stopped) await stopServer(gw.child, 10_000);
  }
  enter(ctx, 'done');
  result.stage = 'done';
  result.completed = true;
}

/**
 * The gateway's HTTP port. startGatewayProcess picks it but returns only the MQTT port, so it is found the
 * way `ss -ltnp` would: the listening TCP sockets of the process (/proc/<pid>/fd → /proc/net/tcp), the MQTT
 * port left out, checked with /readyz.
 */
async function httpPortOf(pid: number, mqttPort: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // closed between readdir and readlink
    }
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT, st 0A = LISTEN, inode is field 10.
      if (f[3] !== '0A' || f[9] === undefined || !inodes.has(f[9])) continue;
      const port = parseInt(f[1]?.split(':')[1] ?? '', 16);
      if (Number.isInteger(port) && port !== mqttPort) ports.push(port);
    }
  }
  for (const port of ports) if ((await httpStatus(`http://127.0.0.1:${port}/readyz`)) === 200) return port;
  throw new Error(`could not find the gateway's HTTP port (listening: ${ports.join(', ') || 'none besides MQTT'})`);
}
