import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CliContext } from '../../../gateway/cli/context.js';
import { registerSimCommands } from '../../../gateway/cli/sim.js';
import type { Config } from '../../../gateway/config/schema.js';
import type { Gateway } from '../../../gateway/main.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';
import { journaled, provision } from '../../support/sim.js';

// `tryggheim sim …` in-process against a real gateway: the CLI writes the registry the running gateway
// authenticates against (same SQLite file), then plays over real sockets.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway | undefined;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-sim-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await gw?.close();
  if (gw) removeDir(gw.dataDir);
  gw = undefined;
});

interface Run {
  out: string[];
  err: string[];
  exitCode: number;
}

async function cli(g: TestGateway, ...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = { config: () => ({ dataDir: g.dataDir }) as unknown as Config, out: (l) => out.push(l), err: (l) => err.push(l) };
  const program = new Command('tryggheim')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s.trimEnd()), writeErr: (s) => err.push(s.trimEnd()) });
  registerSimCommands(program, ctx);
  let exitCode = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    exitCode = e.exitCode;
  }
  return { out, err, exitCode };
}

const json = (r: Run): Record<string, unknown> => JSON.parse(r.out.join('\n')) as Record<string, unknown>;
const broker = (g: TestGateway): string[] => ['--broker', `mqtt://127.0.0.1:${g.mqttPort}`];

const SCENARIO = `
name: cli-test
seed: 7
timeZone: Europe/Oslo
start: 2026-03-10T06:00
duration: 2h
speed: max
fleet:
  homes: 2
  devices:
    dispenser: { formats: tryggheim }
    lock: { formats: json-lock }
    sensors:
      formats: zigbee2mqtt
      units: [[motion, climate], door-contact]
incidents:
  - { type: device-offline, home: h2, at: '06:30', duration: 30m, device: bridge }
`;

describe('tryggheim sim', () => {
  it('provision is idempotent and private; run plays the scenario, every message acked, and records it', async () => {
    const g = (gw = await startTestGateway());
    const scenario = join(dir, 'cli-test.yaml');
    const creds = join(dir, 'creds.json');
    const recording = join(dir, 'run.jsonl');
    writeFileSync(scenario, SCENARIO);

    const first = await cli(g, 'sim', 'provision', scenario, '--credentials', creds, '--json');
    expect(first.exitCode, first.err.join('\n')).toBe(0);
    const p1 = json(first);
    expect(p1).toMatchObject({ homesCreated: ['h001', 'h002'], rotated: [], missingSecrets: [] });
    expect((statSync(creds).mode & 0o777).toString(8)).toBe('600');
    const secrets1 = JSON.parse(readFileSync(creds, 'utf8')) as Record<string, { secret: string }>;
    expect(Object.keys(secrets1).length).toBe(6); // per home: dispenser, lock, hub (children never connect)
    expect(g.registry.getDevice(Object.keys(secrets1).find((id) => id.includes('hub')) ?? '')?.children?.length).toBe(2);

    const again = json(await cli(g, 'sim', 'provision', scenario, '--credentials', creds, '--json'));
    expect(again).toMatchObject({ homesCreated: [], created: [], rotated: [] });
    expect(JSON.parse(readFileSync(creds, 'utf8'))).toEqual(secrets1);
    const rotated = json(await cli(g, 'sim', 'provision', scenario, '--credentials', creds, '--rotate', '--json'));
    expect((rotated.rotated as string[]).length).toBe(6);
    expect(JSON.parse(readFileSync(creds, 'utf8'))).not.toEqual(secrets1);

    const run = await cli(g, 'sim', 'run', scenario, ...broker(g), '--credentials', creds, '--record', recording, '--json');
    expect(run.exitCode, run.err.join('\n')).toBe(0);
    const s = json(run);
    expect(s).toMatchObject({ scenario: 'cli-test', failed: 0, refused: [], skipped: 0 });
    expect(s.published).toBeGreaterThan(10);
    expect(s.acknowledged).toBe(s.published);
    expect((s.recorded as { clients: number }).clients).toBe(6);
    expect(journaled(g).size).toBeGreaterThan(0);
  });

  it('replay: a bad line 3 exits 1 naming file:3; --retarget plays a recording as other devices', async () => {
    const g = (gw = await startTestGateway());
    const creds = join(dir, 'replay-creds.json');
    writeFileSync(creds, JSON.stringify(provision(g, [{ id: 'd-0412', kind: 'sensor' }])));
    const header = JSON.stringify({
      format: 'tryggheim-recording',
      version: 1,
      timeZone: 'Europe/Oslo',
      start: '2026-03-10T05:00:00.000Z',
      source: 'test',
      clients: [{ id: 'sim-h001-sen-1', kind: 'device' }],
    });
    const line = (t: number, payload: string): string =>
      JSON.stringify({ t, client: 'sim-h001-sen-1', topic: 'tryggheim/v1/devices/sim-h001-sen-1/up', qos: 1, retain: false, payload });
    const good = join(dir, 'good.jsonl');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(
      good,
      [header, line(0, '{"type":"measurement","motion":true}'), line(1000, '{"type":"measurement","motion":false}')].join('\n'),
    );
    writeFileSync(bad, [header, line(0, '{}'), '{"t":5,"client":"sim-h001-sen-1"}', line(9, '{}')].join('\n'));

    const failed = await cli(g, 'sim', 'replay', bad, ...broker(g), '--credentials', creds, '--speed', 'max');
    expect(failed.exitCode).toBe(1);
    expect(failed.err.join('\n')).toContain(`${bad}:3: `);

    const map = join(dir, 'map.json');
    writeFileSync(map, JSON.stringify({ 'sim-h001-sen-1': 'd-0412' }));
    const replay = await cli(g, 'sim', 'replay', good, ...broker(g), '--credentials', creds, '--retarget', map, '--speed', 'max', '--json');
    expect(replay.exitCode, replay.err.join('\n')).toBe(0);
    expect(json(replay)).toMatchObject({ published: 2, acknowledged: 2, refused: [] });
    expect(journaled(g).get('d-0412 up')).toHaveLength(2);

    // Without the retarget, the recorded id has no secret: reported per client, exit 1, nothing crashes.
    const refused = await cli(g, 'sim', 'replay', good, ...broker(g), '--credentials', creds, '--speed', 'max', '--json');
    expect(refused.exitCode).toBe(1);
    expect(json(refused)).toMatchObject({
      refused: [{ client: 'sim-h001-sen-1', reason: 'no secret for this client in the credentials' }],
      skipped: 2,
    });
  });

  it('load reports achieved rate, acks and latency; record captures it with an observer', async () => {
    const g = (gw = await startTestGateway());
    const creds = join(dir, 'load-creds.json');
    const all = provision(g, [
      { id: 'load-0001', kind: 'sensor' },
      { id: 'load-0002', kind: 'sensor' },
      { id: 'obs-0001', kind: 'observer' },
    ]);
    const { 'obs-0001': observer, ...devices } = all;
    writeFileSync(creds, JSON.stringify(devices));
    const pw = join(dir, 'observer.secret');
    writeFileSync(pw, `${observer?.secret ?? ''}\n`);
    const out = join(dir, 'load.jsonl');

    const recording = cli(
      g,
      'sim',
      'record',
      ...broker(g),
      '--username',
      'obs-0001',
      '--password-file',
      pw,
      '--device',
      'load-0001',
      '--out',
      out,
      '--duration',
      '3.5',
      '--json',
    );
    await new Promise((r) => setTimeout(r, 300)); // the recorder is subscribed well before the load starts
    const load = await cli(
      g,
      'sim',
      'load',
      '--devices',
      '2',
      '--rate',
      '40',
      '--duration',
      '1.5',
      ...broker(g),
      '--credentials',
      creds,
      '--json',
    );
    expect(load.exitCode, load.err.join('\n')).toBe(0);
    const s = json(load);
    expect(s).toMatchObject({ devices: 2, connected: 2, refused: {}, failed: 0, targetRate: 40 });
    expect(s.acknowledged).toBe(s.published);
    expect(s.achievedRate as number).toBeGreaterThan(10); // target 40: generous for 2 shared cores
    expect((s.latencyMs as { p99: number }).p99).toBeGreaterThan(0);

    const rec = await recording;
    expect(rec.exitCode, rec.err.join('\n')).toBe(0);
    const r = json(rec);
    expect(r).toMatchObject({ clients: 1 });
    expect(r.lines as number).toBeGreaterThan(10);
    expect(readFileSync(out, 'utf8')).not.toContain('load-0002');
  });
});
