import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CanonicalEvent } from '../../adapters/canonical.js';
import { play, type PlaySummary } from '../../simulators/player.js';
import { countDevices, expandFleet, timeline, type Scenario } from '../../simulators/scenario/index.js';
import type { Clock } from '../../simulators/types.js';
import type { Gateway } from '../main.js';
import type { CliContext } from './context.js';
import { existingCredentials, provisionFleet, writeCredentials } from './sim-provision.js';

// The demo's simulated district: the busy-district scenario provisioned into the demo gateway and played on a
// clock the gateway shares (so a district day passes in minutes and device time = gateway time), with the
// notable events printed as they arrive, so a new user sees the gateway work within a minute.

/** A file of the project (the shipped scenarios), from the sources or from dist/. */
export function projectFile(relative: string): string {
  for (const up of ['../../', '../../../']) {
    const candidate = fileURLToPath(new URL(up + relative, import.meta.url));
    if (existsSync(candidate)) return candidate;
  }
  return resolve(relative);
}

export const DEMO_SCENARIO = 'simulators/scenarios/busy-district.yaml';

export interface District {
  readonly devices: number;
  readonly homes: number;
  /** Stops publishing, waits briefly for the last acks and prints the summary. */
  stop(): Promise<void>;
}

/** What a nurse or technician would want to know about; telemetry is only counted. */
function notable(e: CanonicalEvent): string | undefined {
  const b = e.body;
  switch (b.type) {
    case 'dose':
      return ['missed', 'not_dispensed', 'refused', 'jam', 'empty', 'power_lost', 'late'].includes(b.kind)
        ? `dose ${b.kind.replace('_', ' ')}${b.slot !== undefined ? ` (slot ${b.slot})` : ''}`
        : undefined;
    case 'lock':
      return ['forced', 'left_open', 'failed_attempt', 'jammed'].includes(b.kind) ? `door ${b.kind.replace('_', ' ')}` : undefined;
    case 'alarm':
      return b.state === 'active' ? `ALARM ${b.kind.replace('_', ' ')}` : undefined;
    case 'status':
      return b.status.battery_low === true ? 'battery low' : undefined;
    case 'measurement':
    case 'vitals':
      return undefined;
  }
}

export function startDistrict(gw: Gateway, scenario: Scenario, run: { clock: Clock; speed: number }, ctx: CliContext): District {
  const { clock } = run;
  const fleet = expandFleet(scenario);
  const credentialsFile = join(resolve(gw.config.dataDir), 'demo-credentials.json');
  const options = {
    teamId: 'team-demo',
    timeZone: scenario.timeZone,
    existing: existingCredentials(credentialsFile),
    care: gw.alerting.care,
  };
  let report = provisionFleet(gw.registry, fleet, { ...options, rotate: false });
  // A data dir from an earlier demo whose credentials file is gone: new secrets for everyone.
  if (report.missingSecrets.length > 0) report = provisionFleet(gw.registry, fleet, { ...options, rotate: true });
  writeCredentials(credentialsFile, report.credentials);

  const localTime = new Intl.DateTimeFormat('en-GB', { timeZone: scenario.timeZone, hour: '2-digit', minute: '2-digit' });
  const simTime = (ms: number): string => localTime.format(new Date(ms));
  let printed = 0;
  let lastSecond = 0;
  let skipped = 0;
  const print = (line: string): void => {
    // At most 3 lines a second: the point is to see it happen, not to read every reading.
    const second = Math.floor(Date.now() / 1000);
    if (second !== lastSecond) {
      if (skipped > 0) ctx.out(`           … and ${skipped} more`);
      lastSecond = second;
      printed = 0;
      skipped = 0;
    }
    if (printed++ < 3) ctx.out(line);
    else skipped += 1;
  };
  const offEvents = gw.events.on('events', (events) => {
    for (const e of events) {
      const what = notable(e);
      if (what !== undefined) print(`  [${simTime(Date.parse(e.observedAt))}] home ${e.homeId ?? '?'}  ${e.deviceId}  ${what}`);
    }
  });
  const offStatus = gw.events.on('device-status', (s) => {
    if (s.status === 'offline' && !s.retained) print(`  [${simTime(clock.now())}] ${s.principal.kind} ${s.principal.id} went offline`);
  });

  // Alerts as they are raised: what the demo nurse's dashboard shows at the same moment.
  let alertCursor = gw.alerting.alerts.lastOutboxId();
  const offAlerts = gw.alerting.notifier.subscribe(() => {
    for (const entry of gw.alerting.alerts.outboxSince(alertCursor, 1000)) {
      alertCursor = entry.id;
      const { transition: t, alert: a } = entry;
      if (t.type === 'raised')
        ctx.out(`  [${simTime(Date.parse(t.at))}] ALERT ${a.severity.padEnd(8)} home ${a.homeId ?? '-'}  ${a.rule}: ${a.title}`);
    }
  });

  const abort = new AbortController();
  const kinds = Object.fromEntries(fleet.map((d) => [d.id, d.kind === 'bridge' ? ('bridge' as const) : ('device' as const)]));
  const port = gw.broker.address('tcp')?.port ?? gw.config.broker.tcp.port;
  let lastReport = Date.now();
  const done: Promise<PlaySummary | undefined> = play(timeline(scenario, fleet), {
    broker: `mqtt://127.0.0.1:${port}`,
    credentials: report.credentials,
    kinds,
    clock,
    signal: abort.signal,
    drainTimeoutMs: 5000,
    progressIntervalMs: 1000,
    onProgress: (p) => {
      if (Date.now() - lastReport < 15_000) return;
      lastReport = Date.now();
      const dead = Object.values(gw.ingest.stats.deadLetters).reduce((a, n) => a + n, 0);
      ctx.out(
        `[demo] simulated ${simTime(p.at)} · ${p.acknowledged.toLocaleString('en')} messages acknowledged · ` +
          `${gw.ingest.stats.events.toLocaleString('en')} events · ${gw.ingest.stats.pointsWritten.toLocaleString('en')} points stored · ` +
          `${dead} dead letters · ${gw.alerting.alerts.list({ limit: 5000 }).length} alerts open`,
      );
    },
  }).catch((err: unknown) => {
    ctx.err(`demo district stopped: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });
  const clients = fleet.length;
  const devices = countDevices(fleet);
  ctx.out(
    `Simulated district: ${scenario.homes.length} homes, ${devices} devices (${clients} MQTT clients), ` +
      `${run.speed}× speed from ${simTime(scenario.start)} (device and gateway share this clock); credentials in ${credentialsFile}`,
  );

  return {
    devices,
    homes: scenario.homes.length,
    async stop() {
      abort.abort();
      const summary = await done;
      offEvents();
      offStatus();
      offAlerts();
      if (summary)
        ctx.out(
          `[demo] district stopped: ${summary.acknowledged} acknowledged, ${summary.failed} failed, ${summary.refused.length} refused`,
        );
    },
  };
}
