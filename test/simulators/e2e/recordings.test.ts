import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordingWriter, openRecording } from '../../../simulators/recording.js';
import { loadScenario, timeline } from '../../../simulators/scenario/index.js';
import { removeDir } from '../../support/gateway.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { drained, kindsOf, playOn, provisionScenario, startSimGateway, storedPoints, type SimGateway } from './sim-gateway.js';

// Issue 4: the committed synthetic recordings replay through a real gateway (broker, journal, adapters,
// storage thread, Debian's influxd) with every message acknowledged and stored; and a recording taken from a
// simulator run replays to the same stored points. Each recording in test/fixtures/recordings/ was taken from
// the shipped scenario of the same name (PROVENANCE.md there), whose fleet is provisioned before the replay.

const RECORDINGS = fileURLToPath(new URL('../../fixtures/recordings/', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('../../../simulators/scenarios/', import.meta.url));
const recordings = readdirSync(RECORDINGS).filter((f) => f.endsWith('.jsonl'));

let influxd: TestInfluxd;
const gateways: SimGateway[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  influxd = await startInfluxd();
}, 30_000);

afterAll(async () => {
  for (const gw of gateways) {
    await gw.close();
    removeDir(gw.dataDir);
  }
  for (const d of dirs) removeDir(d);
  await influxd.stop();
});

async function gateway(database: string, start: number): Promise<SimGateway> {
  const gw = await startSimGateway(influxd.url, database, start);
  gateways.push(gw);
  return gw;
}

function deadLetters(gw: SimGateway): unknown[] {
  return gw.journal.db.prepare('SELECT principal_id, subtopic, reason FROM dead_letters').all();
}

describe('committed recordings', () => {
  it('there are committed recordings to replay', () => {
    expect(recordings.length).toBeGreaterThanOrEqual(3);
  });

  for (const file of recordings) {
    const name = basename(file, '.jsonl');
    it(`${name}: every message is acknowledged and stored`, async () => {
      const rec = await openRecording(join(RECORDINGS, file));
      const scenario = loadScenario(join(SCENARIOS, `${name}.yaml`));
      const gw = await gateway(`rec_${name.replaceAll('-', '_')}`, rec.start);
      const { fleet, credentials } = provisionScenario(gw, scenario);
      expect(rec.header.clients.every((c) => c.id in credentials)).toBe(true);

      const summary = await playOn(gw, rec.actions(), credentials, kindsOf(fleet));
      await drained(gw);

      expect(summary.refused).toEqual([]);
      expect(summary.failed).toBe(0);
      expect(summary.published).toBeGreaterThan(0);
      expect(summary.acknowledged + summary.qos0).toBe(summary.published);
      expect(deadLetters(gw)).toEqual([]);
      const points = await storedPoints(influxd.url, gw.database);
      expect(points.length).toBe(gw.ingest.stats.events);
      expect(points.length).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe('record a simulator run, replay the recording', () => {
  it('the replay stores exactly the points the run stored', async () => {
    const scenario = loadScenario(join(SCENARIOS, 'door-left-open.yaml'));
    const dir = mkdtempSync(join(tmpdir(), 'tryggheim-rec-'));
    dirs.push(dir);
    const file = join(dir, 'run.jsonl');

    const a = await gateway('run_a', scenario.start);
    const provisioned = provisionScenario(a, scenario);
    const writer = createRecordingWriter(file, { start: scenario.start, source: 'test: door-left-open', timeZone: scenario.timeZone });
    const ran = await playOn(a, timeline(scenario, provisioned.fleet), provisioned.credentials, kindsOf(provisioned.fleet), writer);
    await writer.close();
    await drained(a);
    expect(ran.failed).toBe(0);

    const b = await gateway('run_b', scenario.start);
    const again = provisionScenario(b, scenario);
    const rec = await openRecording(file);
    const replayed = await playOn(b, rec.actions(), again.credentials, kindsOf(again.fleet));
    await drained(b);
    expect(replayed.failed).toBe(0);
    expect(replayed.published).toBe(ran.published);

    const pointsA = await storedPoints(influxd.url, 'run_a');
    const pointsB = await storedPoints(influxd.url, 'run_b');
    expect(pointsA.length).toBeGreaterThan(100);
    expect(pointsB).toEqual(pointsA);
  }, 90_000);
});
