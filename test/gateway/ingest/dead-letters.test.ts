import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import { buildProgram } from '../../../gateway/cli/main.js';
import type { CliContext } from '../../../gateway/cli/context.js';
import type { Gateway } from '../../../gateway/main.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';

// A technician's loop: a device's messages are dead-lettered, the technician finds them with the CLI, fixes
// the registry, replays them, and they are stored. The gateway runs in this process; the CLI opens the same
// data directory, as it would from another shell. Storage is a recording stand-in.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway | undefined;
afterEach(async () => {
  const dir = gw?.dataDir;
  await gw?.close();
  gw = undefined;
  if (dir) removeDir(dir);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
}

async function cli(g: TestGateway, ...args: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = { config: () => g.config, out: (l) => out.push(l), err: (l) => err.push(l) };
  await buildProgram(ctx).parseAsync(['node', 'tryggheim', ...args]);
  return { out, err };
}

describe('dead letters: list, show, replay', () => {
  it('a device on the wrong adapter is dead-lettered; after set-adapter, replay stores its messages', async () => {
    const written: string[] = [];
    gw = await startTestGateway(
      { influx: { flushIntervalMs: 50 } },
      { storage: { sink: { write: (lines) => Promise.resolve(void written.push(...lines)) }, toLine: (e: CanonicalEvent) => e.eventId } },
    );
    const g = gw;
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim-next' });
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.mqttPort}`, {
      clientId: 'd-0001',
      username: 'd-0001',
      password: secret,
      reconnectPeriod: 0,
    });
    await c.publishAsync('tryggheim/v1/devices/d-0001/up', '{"type":"measurement","ts":"2026-11-23T07:00:00Z","temperature_c":21.5}', {
      qos: 1,
    });
    await c.publishAsync('tryggheim/v1/devices/d-0001/up', '{"type":"alarm.fall","ts":"2026-11-23T07:01:00Z"}', { qos: 1 });
    await c.endAsync();
    await until(() => g.ingest.stats.deadLetters.no_adapter === 2);

    const listed = await cli(g, 'deadletters', 'list', '--json');
    const rows = JSON.parse(listed.out.join('\n')) as { id: number; reason: string; deviceId: string }[];
    expect(rows.map((r) => [r.reason, r.deviceId])).toEqual([
      ['no_adapter', 'd-0001'],
      ['no_adapter', 'd-0001'],
    ]);
    const summary = await cli(g, 'deadletters', 'summary', '--json');
    expect(JSON.parse(summary.out.join('\n'))).toEqual([{ deviceId: 'd-0001', reason: 'no_adapter', count: 2 }]);
    const shown = await cli(g, 'deadletters', 'show', String(rows[1]?.id));
    expect(shown.out.join('\n')).toContain('names adapter "tryggheim-next", which does not exist');
    expect(shown.out.join('\n')).toContain('"temperature_c":21.5');

    await cli(g, 'devices', 'set-adapter', 'd-0001', 'tryggheim');
    const seen: CanonicalEvent[] = [];
    g.events.on('events', (evs) => seen.push(...evs));
    const replay = await cli(g, 'deadletters', 'replay', '--device', 'd-0001');
    expect(replay.out[0]).toMatch(/^replayed 2 dead letter\(s\)/);
    // Bounded but generous: the gateway notices the CLI's replay on its 1 s poll, on a machine that may be busy.
    await until(() => written.length === 2 && g.journal.count() === 0, 15_000);
    expect(written).toHaveLength(2);
    // The replay (another process) put entries back behind the gateway's counters: they were recounted, so
    // removing those entries after InfluxDB confirmed them leaves the counts right, not below zero.
    expect([g.journal.count(), g.journal.bytes()]).toEqual([0, 0]);
    expect(seen.map((e) => e.body.type).sort()).toEqual(['alarm', 'measurement']);
    // The original receive time is kept, and a second replay is refused.
    expect(seen.every((e) => Date.parse(e.receivedAt) < Date.now())).toBe(true);
    const again = await cli(g, 'deadletters', 'replay', String(rows[0]?.id));
    expect(again.out).toContain(`skipped ${rows[0]?.id}: already replayed`);
    expect((await cli(g, 'deadletters', 'list', '--json')).out.join('')).toBe('[]');
  });
});
