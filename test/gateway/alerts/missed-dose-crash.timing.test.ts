import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCareStore } from '../../../gateway/care/store.js';
import { databasePath, openDatabase } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';
import { startGatewayProcess, type GatewayExit, type GatewayProcess } from '../../support/gateway-process.js';

// The "Done when": a gateway killed with SIGKILL between a dose time and its deadline still raises the
// missed-dose alert on time after restart, once (gateway/rules/README.md, "Timers: exactly once across
// restarts"). On the wall clock, with the compiled gateway as a child process (run `npm run build` first when
// running this file alone).
//
// Four homes share one dose at the next whole local minute at least 25 s away (Europe/Oslo), window 1 min,
// grace 0: the deadline is dose time + 60 s. Each home has its own dispenser:
//   A  publishes `dose.dispensed`                 → "Dose not taken" (care)
//   B  publishes its status `online`, nothing else → "Dose not dispensed" (care)
//   C  publishes `dose.dispensed`, `dose.taken`    → no alert (the control)
//   D  never speaks                                → "Dispenser offline at dose time" (technical; status unknown)
// The gateway is SIGKILLed at dose time + 20 s and restarted on the same data dir, before the deadline. Then:
// one alert per missed dose, raised within 1 s after the deadline, one `raised` transition; still one 10 s
// later; still one after a clean stop and another start (a fired deadline is never armed again).
// MISSED_DOSE_CRASH_CLI=<path> runs another build of the CLI (e.g. a patched copy of dist/).

const TIME_ZONE = 'Europe/Oslo';
const MIN_LEAD_MS = 25_000;
const KILL_AFTER_DOSE_MS = 20_000;
const WINDOW_MINUTES = 1;
const GRACE_MINUTES = 0;
/** "On time": the alert's raisedAt at most this long after the deadline. */
const ON_TIME_MS = 1000;
const TEAM = 'team-dose';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (at: number): Promise<void> => sleep(Math.max(0, at - Date.now()));
const iso = (ms: number): string => new Date(ms).toISOString();

/** Local date and time of an instant in the home's zone, via Intl. */
function localParts(ms: number): { date: string; time: string; second: string } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: TIME_ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return { date: `${get('year')}-${get('month')}-${get('day')}`, time: `${get('hour')}:${get('minute')}`, second: get('second') };
}

/** The next whole local minute at least `leadMs` away. */
function nextDose(leadMs: number): { at: number; time: string; label: string } {
  let at = Date.now() + leadMs;
  at = Math.ceil(at / 1000) * 1000;
  while (localParts(at).second !== '00') at += 1000;
  const p = localParts(at);
  return { at, time: p.time, label: `${p.date}T${p.time}` };
}

interface HomeCase {
  readonly home: string;
  readonly device: string;
  /** What the dispenser does before the kill. */
  readonly does: 'dispensed' | 'online' | 'taken' | 'nothing';
  /** The alert expected after the deadline: its title and kind, or none. */
  readonly expect: { title: string; kind: 'care' | 'technical' } | null;
}

const CASES: readonly HomeCase[] = [
  { home: 'home-dose-a', device: 'disp-dose-a', does: 'dispensed', expect: { title: 'Dose not taken', kind: 'care' } },
  { home: 'home-dose-b', device: 'disp-dose-b', does: 'online', expect: { title: 'Dose not dispensed', kind: 'care' } },
  { home: 'home-dose-c', device: 'disp-dose-c', does: 'taken', expect: null },
  {
    home: 'home-dose-d',
    device: 'disp-dose-d',
    does: 'nothing',
    expect: { title: 'Dispenser offline at dose time: dose status unknown', kind: 'technical' },
  },
];

interface AlertRow {
  id: string;
  home_id: string;
  rule: string;
  subject: string;
  kind: string;
  title: string;
  state: string;
  raised_at: string;
  count: number;
  resolved_at: string | null;
}

interface TransitionRow {
  alert_id: string;
  type: string;
  at: string;
  actor: string;
}

interface Snapshot {
  /** Every alert of the test's homes (open or not). */
  alerts: AlertRow[];
  /** Their raised/deduped/cleared transitions. */
  transitions: TransitionRow[];
  /** The dose's deadline timers still in rule_timers. */
  timers: { home_id: string; key: string; at: string }[];
  /** missed-dose state per home (subject `doses`). */
  states: Map<string, unknown>;
}

let dataDir = '';
let gw: GatewayProcess | undefined;
const clients: MqttClient[] = [];
const outputs: { life: string; output: string; exit?: GatewayExit }[] = [];
const secrets = new Map<string, string>();
let dose = { at: 0, time: '', label: '' };
let deadline = 0;
const timings: Record<string, number | string> = {};
/** When the test first saw each home's alert in the database (epoch ms). */
const firstSeen = new Map<string, number>();

/** A read-only look at the gateway's database (WAL: the running gateway keeps writing meanwhile). */
function snapshot(): Snapshot {
  const db = new BetterSqlite3(databasePath(dataDir), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    const homes = CASES.map((c) => c.home);
    const marks = homes.map(() => '?').join(', ');
    const alerts = db
      .prepare(
        `SELECT id, home_id, rule, subject, kind, title, state, raised_at, count, resolved_at FROM alerts
         WHERE home_id IN (${marks}) ORDER BY home_id, raised_at`,
      )
      .all(...homes) as AlertRow[];
    const transitions = db
      .prepare(
        `SELECT t.alert_id, t.type, t.at, t.actor FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
         WHERE a.home_id IN (${marks}) AND t.type IN ('raised', 'deduped', 'cleared') ORDER BY t.id`,
      )
      .all(...homes) as TransitionRow[];
    const timers = db
      .prepare(`SELECT home_id, key, at FROM rule_timers WHERE rule = 'missed-dose' AND key = ? AND home_id IN (${marks})`)
      .all(`deadline:${dose.label}`, ...homes) as { home_id: string; key: string; at: string }[];
    const states = new Map<string, unknown>(
      (
        db
          .prepare(`SELECT home_id, state FROM rule_state WHERE rule = 'missed-dose' AND subject = 'doses' AND home_id IN (${marks})`)
          .all(...homes) as { home_id: string; state: string }[]
      ).map((r) => [r.home_id, JSON.parse(r.state) as unknown]),
    );
    return { alerts, transitions, timers, states };
  } finally {
    db.close();
  }
}

function gatewayEnv(): Record<string, string> {
  return {
    TRYGGHEIM_DATA_DIR: dataDir,
    TRYGGHEIM_LOG__LEVEL: 'info',
    TRYGGHEIM_BROKER__HOST: '127.0.0.1',
    TRYGGHEIM_BROKER__TCP__PORT: '0',
    TRYGGHEIM_BROKER__WS__ENABLED: 'false',
    TRYGGHEIM_HTTP__HOST: '127.0.0.1',
    TRYGGHEIM_HTTP__PORT: '0',
    // No InfluxDB: the journal keeps the telemetry; the rules pass runs all the same.
  };
}

/** Another build of the CLI (e.g. a deliberately broken copy of dist/, to check that this test fails). */
const cli = process.env.MISSED_DOSE_CRASH_CLI;

async function start(life: string): Promise<GatewayProcess> {
  const t = Date.now();
  const p = await startGatewayProcess({ env: gatewayEnv(), ...(cli ? { cli } : {}) });
  timings[`${life}StartMs`] = Date.now() - t;
  outputs.push({ life, output: '' });
  const entry = outputs[outputs.length - 1];
  void p.exited.then((exit) => {
    if (entry) {
      entry.output = p.output();
      entry.exit = exit;
    }
  });
  return p;
}

/** Each life's output so far (the running one's read now). */
function allOutputs(): { life: string; output: string; exit?: GatewayExit }[] {
  return outputs.map((l, i) => (i === outputs.length - 1 && l.exit === undefined && gw ? { ...l, output: gw.output() } : l));
}

/** The gateway's log lines worth showing when something fails: warnings and errors, and rule/alert events. */
function interestingLines(): string {
  return allOutputs()
    .map((l) => {
      const lines = l.output
        .split('\n')
        .filter((line) => /"level":(40|50|60)|rules\.|alerts\.|device\.status/.test(line))
        .slice(-40);
      return `── ${l.life} (exit ${JSON.stringify(l.exit ?? null)}) ──\n${lines.join('\n')}`;
    })
    .join('\n');
}

/** Runs a test body; on failure prints the timings so far and the gateway's relevant log lines. */
async function reported(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    console.log(`missed-dose crash test failed; timings ${JSON.stringify(timings)}\n${interestingLines()}`);
    throw err;
  }
}

/** Registry and care plan, written with the gateway's own modules before any gateway process runs. */
function provision(): void {
  const db = openDatabase(databasePath(dataDir));
  try {
    const registry = createDeviceRegistry({ db });
    const care = createCareStore({ db });
    for (const c of CASES) {
      registry.addHome({ id: c.home, teamId: TEAM, timeZone: TIME_ZONE });
      const { secret } = registry.addDevice({
        id: c.device,
        kind: 'dispenser',
        model: 'crash-test',
        adapterId: 'tryggheim',
        homeId: c.home,
      });
      secrets.set(c.device, secret);
      care.setSchedule(c.home, [{ time: dose.time, windowMinutes: WINDOW_MINUTES, graceMinutes: GRACE_MINUTES }]);
    }
  } finally {
    db.close();
  }
}

async function connect(device: string, port: number): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: device,
    username: device,
    password: secrets.get(device) ?? '',
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  clients.push(client);
  return client;
}

async function doseEvent(client: MqttClient, device: string, kind: 'dispensed' | 'taken'): Promise<void> {
  const payload = JSON.stringify({ type: `dose.${kind}`, ts: iso(Date.now()), scheduledAt: iso(dose.at) });
  await client.publishAsync(`tryggheim/v1/devices/${device}/up`, payload, { qos: 1 });
}

type DoseRecordView = { dispensedAt?: number; takenAt?: number; raised?: string } | undefined;
const doseRecord = (s: Snapshot, home: string): DoseRecordView =>
  (s.states.get(home) as { doses?: Record<string, DoseRecordView> } | undefined)?.doses?.[dose.label];
const stateOnline = (s: Snapshot, home: string): boolean | null | undefined =>
  (s.states.get(home) as { online?: boolean | null } | undefined)?.online;

/** Whether the rules have seen what each dispenser did (so the kill cannot race the rules pass). */
function rulesSawDispensers(s: Snapshot): boolean {
  return CASES.every((c) => {
    switch (c.does) {
      case 'dispensed':
        return doseRecord(s, c.home)?.dispensedAt !== undefined;
      case 'taken':
        return doseRecord(s, c.home)?.takenAt !== undefined;
      case 'online':
        return stateOnline(s, c.home) === true;
      case 'nothing':
        return true;
    }
  });
}

/** Checks every home: one alert (one raised transition, no dedupe) where a dose was missed, none where taken. */
function expectExactlyOnce(s: Snapshot, when: string): void {
  for (const c of CASES) {
    const alerts = s.alerts.filter((a) => a.home_id === c.home);
    if (c.expect === null) {
      expect(alerts, `${when}: ${c.home} took its dose, yet has alerts`).toEqual([]);
      continue;
    }
    expect(
      alerts.map((a) => ({ rule: a.rule, subject: a.subject, title: a.title, kind: a.kind, open: a.resolved_at === null, count: a.count })),
      `${when}: ${c.home} must have exactly one open missed-dose alert for ${dose.label}`,
    ).toEqual([{ rule: 'missed-dose', subject: dose.label, title: c.expect.title, kind: c.expect.kind, open: true, count: 1 }]);
    const alert = alerts[0];
    const trail = s.transitions.filter((t) => t.alert_id === alert?.id).map((t) => ({ type: t.type, at: t.at, actor: t.actor }));
    expect(trail, `${when}: ${c.home}'s audit trail`).toEqual([{ type: 'raised', at: alert?.raised_at, actor: 'rule:missed-dose' }]);
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-dose-crash-'));
  dose = nextDose(MIN_LEAD_MS);
  deadline = dose.at + (WINDOW_MINUTES + GRACE_MINUTES) * 60_000;
  timings.dose = `${dose.label} ${TIME_ZONE} (${iso(dose.at)})`;
  timings.deadline = iso(deadline);
  provision();
  gw = await start('first');
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.endAsync(true)));
  try {
    await gw?.stop(5000);
  } finally {
    gw = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}, 20_000);

describe('missed dose across a gateway crash (SIGKILL between dose time and deadline)', () => {
  it('raises the missed-dose alert on time after a restart, once; nothing for the dose taken', { timeout: 180_000 }, async () => {
    await reported(async () => {
      const first = gw;
      if (!first) throw new Error('gateway did not start');
      // The deadlines are armed from the plan, for exactly dose time + window + grace.
      const armed = snapshot();
      expect(armed.timers.map((t) => `${t.home_id} ${t.at}`).sort()).toEqual(CASES.map((c) => `${c.home} ${iso(deadline)}`).sort());

      // Dispenser B says it is online before the dose; the others speak at the dose time.
      const b = CASES.find((c) => c.does === 'online');
      if (b) {
        const client = await connect(b.device, first.mqttPort);
        await client.publishAsync(`tryggheim/v1/devices/${b.device}/status`, 'online', { qos: 1 });
      }
      await sleepUntil(dose.at + 1000);
      for (const c of CASES) {
        if (c.does !== 'dispensed' && c.does !== 'taken') continue;
        const client = await connect(c.device, first.mqttPort);
        await doseEvent(client, c.device, 'dispensed');
        if (c.does === 'taken') await doseEvent(client, c.device, 'taken');
      }
      // Each message is journaled (PUBACK); wait until the rules pass has stepped them too.
      const seenBy = Date.now() + 10_000;
      let s = snapshot();
      while (!rulesSawDispensers(s) && Date.now() < seenBy) {
        await sleep(100);
        s = snapshot();
      }
      expect(rulesSawDispensers(s), `the rules did not see the dispensers' messages: ${JSON.stringify([...s.states])}`).toBe(true);
      await Promise.all(clients.splice(0).map((c) => c.endAsync()));
      expect(s.alerts, 'no alert before the deadline').toEqual([]);
      expect(s.timers).toHaveLength(CASES.length);

      // The crash: between the dose time and its deadline.
      await sleepUntil(dose.at + KILL_AFTER_DOSE_MS);
      const killedAt = Date.now();
      first.kill('SIGKILL');
      const exit = await first.exited;
      expect(exit.signal).toBe('SIGKILL');
      timings.killedAfterDoseMs = killedAt - dose.at;
      const restartAt = Date.now();
      gw = await start('restart');
      const restarted = Date.now();
      timings.downMs = restarted - killedAt;
      timings.restartMs = restarted - restartAt;
      timings.restartedBeforeDeadlineMs = deadline - restarted;
      // Otherwise the deadline fires as an overdue row at start-up, and "on time" would not have been tested.
      expect(restarted, 'the restart must complete before the deadline for the test to mean anything').toBeLessThan(deadline - 2000);

      // Until 5 s after the deadline: nothing before it, then each missed dose's alert.
      const missed = CASES.filter((c) => c.expect !== null);
      const watchUntil = deadline + 5000;
      while (Date.now() < watchUntil) {
        s = snapshot();
        const t = Date.now();
        for (const a of s.alerts) if (!firstSeen.has(a.home_id)) firstSeen.set(a.home_id, t);
        if (t < deadline) expect(s.alerts, `an alert before the deadline (${iso(t)})`).toEqual([]);
        if (missed.every((c) => firstSeen.has(c.home)) && t > deadline + 1500) break;
        await sleep(50);
      }
      s = snapshot();
      expectExactlyOnce(s, 'after the deadline');
      for (const a of s.alerts) {
        const late = Date.parse(a.raised_at) - deadline;
        timings[`${a.home_id} raisedLateMs`] = late;
        timings[`${a.home_id} seenLateMs`] = (firstSeen.get(a.home_id) ?? Number.NaN) - deadline;
        expect(late, `${a.home_id} raised at ${a.raised_at}, deadline ${iso(deadline)}`).toBeGreaterThanOrEqual(0);
        expect(late, `${a.home_id} raised at ${a.raised_at}, deadline ${iso(deadline)}`).toBeLessThanOrEqual(ON_TIME_MS);
      }
      // Every deadline fired (the taken dose's too: its row is gone, with no alert).
      expect(s.timers).toEqual([]);
      expect(doseRecord(s, 'home-dose-a')?.raised).toBe('dispensed-not-taken');
      expect(doseRecord(s, 'home-dose-c')?.raised).toBeUndefined();
    });
  });

  it('does not fire again: still one alert 10 s later', { timeout: 30_000 }, async () => {
    await reported(async () => {
      await sleep(10_000);
      expect(gw, 'the restarted gateway is running').toBeDefined();
      expectExactlyOnce(snapshot(), '10 s after the deadline');
    });
  });

  it('a fired deadline is never armed again: still one after a clean stop and another start', { timeout: 40_000 }, async () => {
    await reported(async () => {
      const current = gw;
      if (!current) throw new Error('no gateway');
      const stopped = await current.stop(10_000);
      expect(stopped, 'clean shutdown on SIGTERM').toEqual({ code: 0, signal: null });
      gw = await start('again');
      await sleep(4000);
      const s = snapshot();
      expectExactlyOnce(s, 'after a clean stop and start');
      expect(s.timers).toEqual([]);
      const errors = allOutputs()
        .flatMap((l) => l.output.split('\n'))
        .filter((line) => /"level":(50|60)/.test(line));
      expect(errors, 'errors in the gateway log').toEqual([]);
    });
    console.log(`missed-dose crash test: ${JSON.stringify(timings)}`);
  });
});
