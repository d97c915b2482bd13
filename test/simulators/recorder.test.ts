import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/main.js';
import { virtualClock } from '../../simulators/clock.js';
import { play } from '../../simulators/player.js';
import { RecorderError, startRecorder } from '../../simulators/recorder.js';
import { createRecordingWriter, openRecording } from '../../simulators/recording.js';
import type { Action, Credentials } from '../../simulators/types.js';
import { removeDir, startTestGateway } from '../support/gateway.js';
import { journaled, provision } from '../support/sim.js';

// Record with an observer while the player plays, replay the recording into a fresh gateway, and compare
// what the two ingests accepted: the same bytes per (client, topic), in the same order.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
const START = Date.parse('2026-11-23T06:00:00.000Z');
const FLEET = [
  { id: 'd-0001', kind: 'sensor' },
  { id: 'd-0002', kind: 'dispenser' },
  { id: 'b-0001', kind: 'bridge' },
  { id: 'obs-0001', kind: 'observer' },
  { id: 'obs-0002', kind: 'observer' },
] as const;
const KINDS = { 'b-0001': 'bridge' } as const;
const gateways: TestGateway[] = [];
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-recorder-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const g of gateways.splice(0)) {
    await g.close();
    removeDir(g.dataDir);
  }
});

async function gateway(): Promise<{ g: TestGateway; creds: Credentials; statuses: string[] }> {
  const g = await startTestGateway();
  gateways.push(g);
  const creds = provision(g, FLEET);
  const statuses: string[] = [];
  g.events.on('device-status', (e) => statuses.push(`${e.principal.id} ${e.status}`));
  return { g, creds, statuses };
}

const url = (g: TestGateway): string => `mqtt://127.0.0.1:${g.mqttPort}`;
const up = (id: string): string => `tryggheim/v1/devices/${id}/up`;
const pub = (at: number, client: string, topic: string, payload: Buffer | string): Action => ({
  at: START + at,
  client,
  op: 'publish',
  topic,
  payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
  qos: 1,
  retain: false,
});
const reading = (n: number): string =>
  JSON.stringify({ type: 'measurement', ts: new Date(START + n * 1000).toISOString(), seq: n, motion: n % 2 === 0 });

function scenario(): Action[] {
  const a: Action[] = [{ at: START, client: 'd-0001', op: 'connect' }];
  for (let n = 1; n <= 10; n++) {
    if (n === 6) a.push({ at: START + n * 1000 - 1, client: 'd-0001', op: 'connect' }); // back after its drop
    a.push(pub(n * 1000, 'd-0001', up('d-0001'), reading(n)));
    a.push(pub(n * 1000, 'b-0001', 'tryggheim/v1/bridges/b-0001/0x00158d0001a2b3c4', `{"occupancy":${n % 3 === 0},"battery":${90 - n}}`));
    if (n === 4) a.push({ at: START + n * 1000 + 1, client: 'd-0001', op: 'drop' });
  }
  // Not JSON, not even UTF-8: dead-lettered by the adapter, but still the same bytes on both sides.
  a.push(pub(11_000, 'd-0002', up('d-0002'), Buffer.from([0xff, 0x00, 0xfe, 0x41])));
  a.push(pub(12_000, 'd-0002', up('d-0002'), '{"type":"dose.taken","slot":"08:00","scheduledAt":"2026-11-23T07:00:00Z"}'));
  return a;
}

/** Status changes per client, in order (lanes run side by side, so only each client's own order is fixed). */
function byClient(statuses: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of statuses) {
    const [id = '', status = ''] = s.split(' ');
    (out[id] ??= []).push(status);
  }
  return out;
}

const dataLines = (file: string): number =>
  readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l !== '' && !/\/status"|bridge\/state"/.test(l)).length;

async function eventually(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('record and replay', () => {
  it('an observer recording replays into a fresh gateway byte-identically; so does the player’s own recording', async () => {
    const one = await gateway();
    const observed = join(dir, 'observed.jsonl');
    const onlyD1 = join(dir, 'd-0001.jsonl');
    const played = join(dir, 'played.jsonl');
    const all = await startRecorder({
      broker: url(one.g),
      username: 'obs-0001',
      password: one.creds['obs-0001']?.secret ?? '',
      out: observed,
    });
    const d1 = await startRecorder({
      broker: url(one.g),
      username: 'obs-0002',
      password: one.creds['obs-0002']?.secret ?? '',
      devices: ['d-0001'],
      out: onlyD1,
    });
    const sink = createRecordingWriter(played, { start: START, source: 'test' });
    const original = await play(scenario(), {
      broker: url(one.g),
      credentials: one.creds,
      kinds: KINDS,
      clock: virtualClock(START),
      record: sink,
    });
    expect(original).toMatchObject({ published: 22, acknowledged: 22, failed: 0, refused: [] });
    await sink.close();
    await eventually(() => one.statuses.length >= 5);
    const allSummary = await all.stop();
    const d1Summary = await d1.stop();
    expect(allSummary).toMatchObject({ clients: 3, reconnects: 0, retainedSkipped: 0 });
    expect(d1Summary).toMatchObject({ clients: 1 });
    expect(dataLines(observed)).toBe(22);
    expect(dataLines(onlyD1)).toBe(10);
    expect(readFileSync(onlyD1, 'utf8')).not.toMatch(/d-0002|b-0001/);
    expect(byClient(one.statuses)).toEqual({ 'd-0001': ['online', 'offline', 'online'], 'b-0001': ['online'], 'd-0002': ['online'] });

    for (const file of [observed, played]) {
      const two = await gateway();
      const rec = await openRecording(file);
      const replay = await play(rec.actions(), {
        broker: url(two.g),
        credentials: two.creds,
        kinds: Object.fromEntries(rec.header.clients.map((c) => [c.id, c.kind])),
        clock: virtualClock(rec.start),
      });
      expect(replay, file).toMatchObject({ published: 22, acknowledged: 22, failed: 0, refused: [] });
      expect(journaled(two.g), file).toEqual(journaled(one.g));
      // The player's own recording knows every connect and drop. An observer can miss a retained status
      // message: aedes 1.2.0 stores it (level, async) before forwarding, a later message overtakes it, and
      // the per-subscriber duplicate check (brokerCounter) then drops it. Data messages are not retained.
      if (file === played) {
        await eventually(() => two.statuses.length >= one.statuses.length);
        expect(byClient(two.statuses)).toEqual(byClient(one.statuses));
      }
    }
  });

  it('a device account cannot record: the broker refuses its subscriptions, and the error says why', async () => {
    const { g, creds } = await gateway();
    const err = await startRecorder({
      broker: url(g),
      username: 'd-0001',
      password: creds['d-0001']?.secret ?? '',
      out: join(dir, 'x.jsonl'),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RecorderError);
    expect((err as Error).message).toMatch(/refused tryggheim\/v1\/devices\/\+\/up.*observer account/);
  });

  it('a wrong observer secret is refused at CONNECT', async () => {
    const { g, creds } = await gateway();
    await expect(
      startRecorder({ broker: url(g), username: 'obs-0001', password: `${creds['obs-0001']?.secret ?? ''}x`, out: join(dir, 'y.jsonl') }),
    ).rejects.toThrow(/cannot connect as obs-0001: the broker refused the observer \(CONNACK 4/);
  });
});
