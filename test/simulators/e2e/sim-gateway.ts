import { loadConfig } from '../../../gateway/config/load.js';
import { provisionFleet } from '../../../gateway/cli/sim-provision.js';
import { createLogger } from '../../../gateway/log.js';
import type { Gateway } from '../../../gateway/main.js';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { runInfluxQL } from '../../../gateway/storage/influxql.js';
import { MEASUREMENTS } from '../../../gateway/storage/line-protocol.js';
import { virtualClock, type VirtualClock } from '../../../simulators/clock.js';
import { play } from '../../../simulators/player.js';
import type { PlaySink, PlaySummary } from '../../../simulators/play-types.js';
import type { Scenario } from '../../../simulators/scenario/index.js';
import { expandFleet } from '../../../simulators/scenario/index.js';
import type { Action, ClientKind, Credentials, DeviceSpec } from '../../../simulators/types.js';
import { startTestGateway } from '../../support/gateway.js';

// A real gateway (broker, journal, adapters, storage thread) writing to a real influxd, on a virtual clock the
// simulator shares: the scenario's time is the gateway's time, so 24 simulated hours take seconds.

export type SimGateway = Gateway & { dataDir: string; mqttPort: number; clock: VirtualClock; database: string };

const silent = createLogger({ level: 'silent' });

export async function startSimGateway(influxUrl: string, database: string, start: number): Promise<SimGateway> {
  const influx = { url: influxUrl, apiVersion: 'v1' as const, database, flushIntervalMs: 50 };
  const setup = await createInfluxWriter({ ...loadConfig({ env: {} }).influx, ...influx }, { logger: silent });
  await setup.ensureDatabase();
  await setup.close();
  const clock = virtualClock(start);
  const gw = await startTestGateway({ influx }, { clock });
  return Object.assign(gw, { clock, database });
}

/** The scenario's homes, devices, hub children and secrets in the gateway's registry. */
export function provisionScenario(gw: Gateway, scenario: Scenario): { fleet: DeviceSpec[]; credentials: Credentials } {
  const fleet = expandFleet(scenario);
  const report = provisionFleet(gw.registry, fleet, {
    teamId: 'team-sim',
    timeZone: scenario.timeZone,
    rotate: false,
    existing: {},
    care: gw.alerting.care,
  });
  return { fleet, credentials: report.credentials };
}

export function kindsOf(fleet: readonly DeviceSpec[]): Record<string, ClientKind> {
  return Object.fromEntries(fleet.map((d) => [d.id, d.kind === 'bridge' ? 'bridge' : 'device'] as const));
}

export async function playOn(
  gw: SimGateway,
  actions: Iterable<Action> | AsyncIterable<Action>,
  credentials: Credentials,
  kinds: Record<string, ClientKind>,
  record?: PlaySink,
): Promise<PlaySummary> {
  return play(actions, {
    broker: `mqtt://127.0.0.1:${gw.mqttPort}`,
    credentials,
    kinds,
    clock: gw.clock,
    // Messages without a device time are dated at receipt: they must arrive within a minute of when they
    // were sent, or identical heartbeats would share a receive time and collapse into one point.
    settle: 60_000,
    ...(record ? { record } : {}),
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the rules pass has seen every journaled entry and InfluxDB has confirmed everything. */
export async function drained(gw: Gateway, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (gw.journal.count() === 0 && gw.ingest.stats.accepted > 0) return;
    await sleep(50);
  }
  throw new Error(`journal not drained: ${gw.journal.count()} entries left`);
}

/** Every stored point as one comparable string (measurement, tags, time, fields), gateway receive time left out. */
export async function storedPoints(influxUrl: string, database: string): Promise<string[]> {
  const out: string[] = [];
  for (const m of MEASUREMENTS) {
    const [r] = await runInfluxQL({ url: influxUrl, database, timeoutMs: 10_000 }, `SELECT * FROM "${m}" GROUP BY *`, {
      method: 'POST',
    });
    for (const s of r?.series ?? []) {
      const tags = JSON.stringify(s.tags ?? {});
      for (const row of s.values ?? []) {
        const fields = s.columns
          .map((c, i) => [c, row[i]] as const)
          .filter(([c, v]) => c !== 'time' && c !== 'received_at_ms' && v !== null && !(s.tags && c in s.tags));
        out.push(`${m} ${tags} ${String(row[0])} ${JSON.stringify(fields)}`);
      }
    }
  }
  return out.sort();
}
