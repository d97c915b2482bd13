// The runner against fake brokers: it must call a silent, open connection a hang, a close a close, and a
// connection that only answers PINGREQ "kept open", all within its budget.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judge } from './compare.js';
import { loadVectorFile } from './load.js';
import { checkBrokerAnswers, runVector, type RunOptions } from './run.js';

type Behaviour = 'silent' | 'close-on-data' | 'pong-only' | 'connack-then-silent';

async function fakeBroker(behaviour: Behaviour): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => {
      if (behaviour === 'close-on-data') s.destroy();
      if (behaviour === 'pong-only' && d.includes(Buffer.from([0xc0, 0x00]))) s.write(Buffer.from([0xd0, 0x00]));
      if (behaviour === 'connack-then-silent' && d[0] === 0x10) s.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          r();
        });
      }),
  };
}

const [vector] = loadVectorFile('T.json', [
  { group: 'g', ver: 4, connect: false, tests: [{ name: 'malformed', msgs: [{ type: 'send', payload: '10 r2 s4' }] }] },
]).vectors;

describe('runVector against fake brokers', () => {
  const brokers = new Map<Behaviour, { port: number; close: () => Promise<void> }>();
  beforeAll(async () => {
    for (const b of ['silent', 'close-on-data', 'pong-only', 'connack-then-silent'] as const) brokers.set(b, await fakeBroker(b));
  });
  afterAll(async () => {
    for (const b of brokers.values()) await b.close();
  });

  const opts = (b: Behaviour): RunOptions => ({
    port: brokers.get(b)?.port ?? 0,
    budgetMs: 400,
    probeReserveMs: 100,
    closeWaitMs: 100,
    clientId: 'c',
    helperClientId: 'h',
  });

  it('calls a silent, open connection a hang, within the budget', async () => {
    if (!vector) throw new Error('no vector');
    const run = await runVector(vector, opts('silent'));
    expect(run.ending).toBe('unresponsive');
    expect(run.elapsedMs).toBeLessThan(400 + 100);
    expect(judge(run, 400)).toMatchObject({ kind: 'fail' });
  });

  it('sees the close', async () => {
    if (!vector) throw new Error('no vector');
    const run = await runVector(vector, opts('close-on-data'));
    expect(run.ending).toBe('closed');
    expect(judge(run, 400)).toEqual({ kind: 'same' });
  });

  it('calls a connection that still answers PINGREQ kept open', async () => {
    if (!vector) throw new Error('no vector');
    const run = await runVector(vector, opts('pong-only'));
    expect(run.ending).toBe('open-responsive');
    expect(judge(run, 400)).toMatchObject({ kind: 'differs', category: 'kept-open' });
  });

  it('liveness check fails on a broker that does not answer, passes on one that does', async () => {
    expect(await checkBrokerAnswers(brokers.get('silent')?.port ?? 0, 'x', true, 200)).toMatch(/no CONNACK/);
    expect(await checkBrokerAnswers(brokers.get('connack-then-silent')?.port ?? 0, 'x', true, 200)).toMatch(/no PINGRESP/);
    expect(await checkBrokerAnswers(brokers.get('connack-then-silent')?.port ?? 0, 'x', false, 200)).toMatch(/return code 0/);
  });
});
