import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/main.js';
import { virtualClock } from '../../simulators/clock.js';
import { play } from '../../simulators/player.js';
import type { Action } from '../../simulators/types.js';
import { removeDir, startTestGateway } from '../support/gateway.js';
import { journaled, mosquittoSub, provision, type Sub } from '../support/sim.js';

// The player against a real gateway (broker, registry, ingest journal) on loopback.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
const START = Date.parse('2026-11-23T06:00:00.000Z');
let gw: TestGateway | undefined;
const subs: Sub[] = [];
afterEach(async () => {
  for (const s of subs.splice(0)) s.stop();
  await gw?.close();
  if (gw) removeDir(gw.dataDir);
  gw = undefined;
});

async function gateway(): Promise<TestGateway> {
  gw = await startTestGateway();
  return gw;
}

const url = (g: TestGateway): string => `mqtt://127.0.0.1:${g.mqttPort}`;
const up = (id: string): string => `tryggheim/v1/devices/${id}/up`;
const reading = (n: number): Buffer =>
  Buffer.from(JSON.stringify({ type: 'measurement', ts: new Date(START + n * 1000).toISOString(), seq: n, temperature_c: 21 }));
const pub = (at: number, client: string, topic: string, payload: Buffer, qos: 0 | 1 = 1): Action => ({
  at: START + at,
  client,
  op: 'publish',
  topic,
  payload,
  qos,
  retain: false,
});
const b64 = (b: Buffer): string => b.toString('base64');

async function eventually(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('play', () => {
  it('plays a hand-built list: every publish acked, per-client order kept, bridge on its own topics', async () => {
    const g = await gateway();
    const creds = provision(g, [
      { id: 'd-0001', kind: 'sensor' },
      { id: 'd-0002', kind: 'sensor' },
      { id: 'b-0001', kind: 'bridge' },
    ]);
    const actions: Action[] = [{ at: START, client: 'd-0001', op: 'connect' }];
    for (let n = 1; n <= 20; n++) {
      actions.push(pub(n * 1000, 'd-0001', up('d-0001'), reading(n)));
      actions.push(pub(n * 1000, 'd-0002', up('d-0002'), reading(100 + n)));
      if (n % 5 === 0)
        actions.push(
          pub(n * 1000, 'b-0001', 'tryggheim/v1/bridges/b-0001/0x00158d0001a2b3c4', Buffer.from(`{"occupancy":${n % 2 === 0}}`)),
        );
    }
    actions.push({ at: START + 30_000, client: 'd-0002', op: 'disconnect' });
    const progress: number[] = [];
    const clock = virtualClock(START);
    const summary = await play(actions, {
      broker: url(g),
      credentials: creds,
      kinds: { 'b-0001': 'bridge' },
      clock,
      settle: true,
      maxInFlight: 4,
      onProgress: (p) => progress.push(p.acknowledged),
    });
    expect(summary).toMatchObject({
      actions: 46,
      clients: 3,
      published: 44,
      acknowledged: 44,
      failed: 0,
      skipped: 0,
      refused: [],
      retried: 0,
    });
    expect(summary.latencyMs?.p50).toBeGreaterThan(0);
    expect(summary.latencyMs?.p99).toBeGreaterThanOrEqual(summary.latencyMs?.p50 ?? 0);
    expect(progress.at(-1)).toBe(44);
    expect(clock.now()).toBe(START + 30_000);

    const j = journaled(g);
    expect(j.get('d-0001 up')).toEqual(Array.from({ length: 20 }, (_, i) => b64(reading(i + 1))));
    expect(j.get('d-0002 up')).toEqual(Array.from({ length: 20 }, (_, i) => b64(reading(101 + i))));
    // A bridge's status is under its base topic (Zigbee2MQTT's bridge/state), so the ingest journals it too.
    expect(j.get('b-0001 bridge/state')).toEqual([b64(Buffer.from('online'))]);
    expect(j.get('b-0001 0x00158d0001a2b3c4')).toHaveLength(4);
  });

  it('reports a client with a wrong secret (or none) as refused with the reason, and the others go on', async () => {
    const g = await gateway();
    const creds = provision(g, [
      { id: 'd-0001', kind: 'sensor' },
      { id: 'd-0002', kind: 'sensor' },
    ]);
    const wrong = { ...creds, 'd-0002': { secret: `${creds['d-0002']?.secret ?? ''}x` } };
    const actions: Action[] = [];
    for (let n = 1; n <= 5; n++) for (const id of ['d-0001', 'd-0002', 'd-0404']) actions.push(pub(n, id, up(id), reading(n)));
    const summary = await play(actions, { broker: url(g), credentials: wrong, clock: virtualClock(START) });
    expect(summary.refused).toEqual([
      { client: 'd-0002', reason: 'CONNACK 4: bad username or password' },
      { client: 'd-0404', reason: 'no secret for this client in the credentials' },
    ]);
    expect(summary).toMatchObject({ published: 5, acknowledged: 5, skipped: 10, failed: 0 });
    expect(journaled(g).get('d-0001 up')).toHaveLength(5);
    expect(journaled(g).has('d-0002 up')).toBe(false);
  });

  it('drop loses the connection without DISCONNECT: an observer sees the will `offline` after `online`', async () => {
    const g = await gateway();
    const creds = provision(g, [
      { id: 'd-0001', kind: 'lock' },
      { id: 'obs-0001', kind: 'observer' },
    ]);
    const obs = creds['obs-0001']?.secret ?? '';
    let sub: Sub | undefined;
    async function* actions(): AsyncGenerator<Action> {
      yield { at: START, client: 'd-0001', op: 'connect' };
      sub = mosquittoSub([
        '-h',
        '127.0.0.1',
        '-p',
        String(g.mqttPort),
        '-i',
        'obs-0001',
        '-u',
        'obs-0001',
        '-P',
        obs,
        '-q',
        '1',
        '-t',
        'tryggheim/v1/devices/+/status',
      ]);
      subs.push(sub);
      await sub.waitFor(1); // retained or live: the device is online, and the observer is subscribed
      yield { at: START + 1000, client: 'd-0001', op: 'drop' };
    }
    const statuses: string[] = [];
    g.events.on('device-status', (e) => statuses.push(`${e.principal.id} ${e.status}`));
    const summary = await play(actions(), { broker: url(g), credentials: creds, clock: virtualClock(START) });
    expect(summary.refused).toEqual([]);
    // An observer subscribing just as `online` is published may get it twice (the retained copy and the live
    // one, as MQTT allows): what must hold is online, then the will's offline.
    await eventually(() => sub?.lines.some((l) => l.endsWith(' offline')) === true);
    const seen = (sub?.lines ?? []).filter((l, i, all) => l !== all[i - 1]);
    expect(seen).toEqual(['tryggheim/v1/devices/d-0001/status online', 'tryggheim/v1/devices/d-0001/status offline']);
    await eventually(() => statuses.length >= 2);
    expect(statuses).toEqual(['d-0001 online', 'd-0001 offline']);
  });

  it('a publish the broker refuses closes the connection: resent up to the limit, counted failed, later ones still acked', async () => {
    const g = await gateway();
    const creds = provision(g, [
      { id: 'd-0001', kind: 'sensor' },
      { id: 'd-0002', kind: 'sensor' },
    ]);
    const actions = [
      pub(1, 'd-0001', up('d-0001'), reading(1)),
      pub(2, 'd-0001', up('d-0002'), reading(2)),
      pub(3, 'd-0001', up('d-0001'), reading(3)),
      pub(4, 'd-0001', up('d-0001'), reading(4)),
    ];
    // One in flight, so d-0001's first reading is acked before the refused one closes the connection.
    const summary = await play(actions, {
      broker: url(g),
      credentials: creds,
      clock: virtualClock(START),
      publishAttempts: 3,
      maxInFlight: 1,
    });
    expect(summary).toMatchObject({ published: 4, acknowledged: 3, failed: 1, refused: [] });
    expect(summary.retried).toBeGreaterThanOrEqual(2);
    expect(Object.keys(summary.errors).some((k) => k.startsWith('connection_lost'))).toBe(true);
    expect(journaled(g).get('d-0001 up')).toEqual([b64(reading(1)), b64(reading(3)), b64(reading(4))]);
    expect(journaled(g).has('d-0002 up')).toBe(false);

    // With a full window the refused publish takes its neighbours down with it; probing finds it, and only
    // it fails (a neighbour journaled before its PUBACK was lost may be journaled twice: at least once).
    const again = await play(
      actions.map((a) => ({ ...a, at: a.at + 10_000 })),
      { broker: url(g), credentials: creds, clock: virtualClock(START + 10_000), publishAttempts: 3 },
    );
    expect(again).toMatchObject({ published: 4, acknowledged: 3, failed: 1 });
  });
});
