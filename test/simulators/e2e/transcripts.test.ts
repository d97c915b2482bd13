import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/main.js';
import { virtualClock, type VirtualClock } from '../../../simulators/clock.js';
import { play } from '../../../simulators/player.js';
import { loadScenario, timeline } from '../../../simulators/scenario/index.js';
import { compareTranscript, loadTranscript, transcriptPathFor, type ActualAlert } from '../../../simulators/transcript.js';
import type { Clock } from '../../../simulators/types.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';
import { kindsOf, provisionScenario } from './sim-gateway.js';

// Issue 5 "Done when": the shipped incident scenarios' expected-alert transcripts pass. Each scenario plays
// through a real gateway — broker, journal, adapters, rules pass, rule engine, alert store in SQLite — on a
// virtual clock the gateway shares, and the alerts it raised are compared with `<scenario>.alerts.yaml`:
// every expected alert in its window, and no alert nobody expected (normal-day expects none at all).
// Storage is left out (no InfluxDB): alerts do not depend on it, and the journal keeps the messages.

const SCENARIOS = fileURLToPath(new URL('../../../simulators/scenarios/', import.meta.url));
const withTranscript = readdirSync(SCENARIOS)
  .filter((f) => /\.ya?ml$/.test(f) && !f.endsWith('.alerts.yaml'))
  .filter((f) => existsSync(transcriptPathFor(join(SCENARIOS, f))))
  .sort();

let gw: (Gateway & { dataDir: string; mqttPort: number }) | undefined;

afterEach(async () => {
  if (gw) {
    await gw.close();
    removeDir(gw.dataDir);
    gw = undefined;
  }
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The shared virtual clock, but time only moves on once the rules have seen every journaled message: a
 * message sent at 02:10 is judged at 02:10, not after the clock has run on to a deadline it would cancel.
 */
function gatedClock(clock: VirtualClock, ready: () => boolean): Clock {
  return {
    now: () => clock.now(),
    setTimer: (at, fn) => clock.setTimer(at, fn),
    async waitUntil(at) {
      while (!ready()) await sleep(1);
      await clock.waitUntil(at);
    },
  };
}

describe('incident scenarios raise the alerts of their transcripts', () => {
  it('there are transcripts to check', () => {
    expect(withTranscript.length).toBeGreaterThanOrEqual(19);
  });

  it.each(withTranscript)(
    '%s',
    async (file) => {
      const path = join(SCENARIOS, file);
      const scenario = loadScenario(path);
      const expected = loadTranscript(transcriptPathFor(path), scenario);
      const clock = virtualClock(scenario.start);
      gw = await startTestGateway({}, { clock });
      const g = gw;
      const { fleet, credentials } = provisionScenario(g, scenario);

      const summary = await play(timeline(scenario, fleet), {
        broker: `mqtt://127.0.0.1:${g.mqttPort}`,
        credentials,
        kinds: kindsOf(fleet),
        clock: gatedClock(clock, () => g.ingest.stats.rulesLag() === 0),
        settle: true,
      });
      expect(summary.refused).toEqual([]);
      expect(summary.failed).toBe(0);
      while (g.ingest.stats.rulesLag() > 0) await sleep(5);
      // Deadlines inside the scenario's time fire (the last action may come before its end).
      await clock.waitUntil(scenario.end);

      const actual: ActualAlert[] = g.alerting.alerts
        .list({ state: 'all', limit: 5000 })
        .filter((a) => a.homeId !== null) // gateway health (no journal storage here) is not part of a scenario
        // Refill notices are routine work, not incidents: the simulated dispensers ask for a refill with a day's
        // doses left on any day (test/gateway/rules/dispenser-fault.test.ts checks them against normal-day).
        .filter((a) => !(a.rule === 'dispenser-fault' && a.subject.endsWith(':refill')))
        .map((a) => ({ rule: a.rule, home: a.homeId ?? '', subject: a.subject, severity: a.severity, raisedAt: Date.parse(a.raisedAt) }));
      const result = compareTranscript(expected, actual, scenario.start);
      expect(result.text, `${file}\n${result.text}`).not.toMatch(/^(MISSING|UNEXPECTED)/m);
      expect(result.ok).toBe(true);
    },
    180_000,
  );
});
