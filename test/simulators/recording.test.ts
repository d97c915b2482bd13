import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Action } from '../../simulators/types.js';
import { countRecordingLines, createRecordingWriter, openRecording, RecordingError } from '../../simulators/recording.js';

// The recording format on its own: files in a temp folder, no broker.

const START = Date.parse('2026-11-23T06:00:00.000Z');
const up = (id: string): string => `tryggheim/v1/devices/${id}/up`;
const status = (id: string): string => `tryggheim/v1/devices/${id}/status`;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-rec-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function all(it: AsyncIterable<Action>): Promise<Action[]> {
  const out: Action[] = [];
  for await (const a of it) out.push(a);
  return out;
}

function header(clients: { id: string; kind: 'device' | 'bridge' }[] = [{ id: 'd-0001', kind: 'device' }]): string {
  return JSON.stringify({
    format: 'tryggheim-recording',
    version: 1,
    timeZone: 'Europe/Oslo',
    start: new Date(START).toISOString(),
    source: 'test',
    clients,
  });
}

const line = (t: number, topic = up('d-0001'), extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ t, client: 'd-0001', topic, qos: 1, retain: false, payload: `{"n":${t}}`, ...extra });

describe('recording writer and reader', () => {
  it('round-trips bytes exactly (UTF-8 as text, anything else as base64) and status messages become connect/drop', async () => {
    const file = join(dir, 'r.jsonl');
    const w = createRecordingWriter(file, { start: START, source: 'unit test' });
    const binary = Buffer.from([0xff, 0x00, 0xfe, 0x41]);
    const bom = Buffer.from('\uFEFF{"æøå":"Tromsø"}', 'utf8');
    const msg = (at: number, client: string, kind: 'device' | 'bridge', topic: string, payload: Buffer, retain = false) => ({
      at: START + at,
      client,
      kind,
      topic,
      qos: 1 as const,
      retain,
      payload,
    });
    w.write(msg(0, 'd-0001', 'device', status('d-0001'), Buffer.from('online'), true));
    w.write(msg(10, 'd-0001', 'device', up('d-0001'), bom));
    w.write(msg(20, 'hub-01', 'bridge', 'tryggheim/v1/bridges/hub-01/0x00158d0001a2b3c4', binary));
    w.write(msg(30, 'd-0001', 'device', status('d-0001'), Buffer.from('offline'), true));
    expect(await w.close()).toEqual({ lines: 4, clients: 2 });

    const text = readFileSync(file, 'utf8').split('\n');
    expect(JSON.parse(text[0] ?? '')).toEqual({
      format: 'tryggheim-recording',
      version: 1,
      timeZone: 'Europe/Oslo',
      start: '2026-11-23T06:00:00.000Z',
      source: 'unit test',
      clients: [
        { id: 'd-0001', kind: 'device' },
        { id: 'hub-01', kind: 'bridge' },
      ],
    });
    expect(JSON.parse(text[3] ?? '')).toMatchObject({ t: 20, payloadBase64: binary.toString('base64') });
    expect(await countRecordingLines(file)).toBe(4);

    const rec = await openRecording(file);
    const actions = await all(rec.actions());
    expect(actions.map((a) => [a.at - START, a.client, a.op])).toEqual([
      [0, 'd-0001', 'connect'],
      [10, 'd-0001', 'publish'],
      [20, 'hub-01', 'publish'],
      [30, 'd-0001', 'drop'],
    ]);
    const pubs = actions.filter((a) => a.op === 'publish');
    expect(pubs[0]?.payload.equals(bom)).toBe(true);
    expect(pubs[1]?.payload.equals(binary)).toBe(true);
  });

  it('leaves out excluded (refused) clients from header and lines', async () => {
    const file = join(dir, 'r.jsonl');
    const w = createRecordingWriter(file, { start: START, source: 'x' });
    for (const id of ['d-0001', 'd-0002'])
      w.write({ at: START, client: id, kind: 'device', topic: up(id), qos: 1, retain: false, payload: Buffer.from('x') });
    expect(await w.close({ exclude: new Set(['d-0002']) })).toEqual({ lines: 1, clients: 1 });
    expect(readFileSync(file, 'utf8')).not.toContain('d-0002');
  });

  it('a bad line 3 stops reading with file:3 and what is wrong', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(
      file,
      [
        header(),
        line(0),
        JSON.stringify({ t: 5, client: 'd-0001', topic: up('d-0001'), qos: 3, retain: false, payload: 'x' }),
        line(9),
      ].join('\n'),
    );
    const rec = await openRecording(file);
    const err = await all(rec.actions()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RecordingError);
    expect((err as RecordingError).line).toBe(3);
    expect((err as Error).message).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}:3: qos: `));
  });

  it.each([
    ['not JSON', '{"t":1,', /:2: not JSON/],
    [
      'an unknown client',
      JSON.stringify({ t: 1, client: 'd-0009', topic: up('d-0009'), qos: 1, retain: false, payload: 'x' }),
      /:2: client d-0009 is not in the header/,
    ],
    ["another client's topic", line(1, up('d-0002')), /:2: topic tryggheim\/v1\/devices\/d-0002\/up is not one of device d-0001's topics/],
    ['both payload forms', line(1, up('d-0001'), { payloadBase64: 'eA==' }), /:2: needs exactly one of payload, payloadBase64/],
    ['an unknown field', line(1, up('d-0001'), { colour: 'red' }), /:2: .*colour/],
  ])('%s is named with its line', async (_what, bad, expected) => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `${header()}\n${bad}\n`);
    const rec = await openRecording(file);
    await expect(all(rec.actions())).rejects.toThrow(expected);
  });

  it('time going backwards is refused', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, [header(), line(50), line(40)].join('\n'));
    await expect(all((await openRecording(file)).actions())).rejects.toThrow(/:3: t 40 goes back in time/);
  });

  it('a bad or missing header is line 1', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `${JSON.stringify({ format: 'mqttx', version: 1 })}\n`);
    await expect(openRecording(file)).rejects.toThrow(/:1: bad header: format/);
    writeFileSync(file, '');
    await expect(openRecording(file)).rejects.toThrow(/:1: empty file/);
  });

  it('retarget rewrites the client and its device and bridge topics', async () => {
    const file = join(dir, 'r.jsonl');
    writeFileSync(
      file,
      [
        header([
          { id: 'sim-h003-lock-1', kind: 'device' },
          { id: 'sim-h003-hub', kind: 'bridge' },
          { id: 'sim-h003-bed-1', kind: 'device' },
        ]),
        JSON.stringify({ t: 0, client: 'sim-h003-lock-1', topic: status('sim-h003-lock-1'), qos: 1, retain: true, payload: 'online' }),
        JSON.stringify({ t: 1, client: 'sim-h003-lock-1', topic: up('sim-h003-lock-1'), qos: 1, retain: false, payload: '{}' }),
        JSON.stringify({
          t: 2,
          client: 'sim-h003-hub',
          topic: 'tryggheim/v1/bridges/sim-h003-hub/0x01',
          qos: 0,
          retain: false,
          payload: '{}',
        }),
        JSON.stringify({ t: 3, client: 'sim-h003-bed-1', topic: up('sim-h003-bed-1'), qos: 1, retain: false, payload: '{}' }),
      ].join('\n'),
    );
    const rec = await openRecording(file, { retarget: { 'sim-h003-lock-1': 'd-0412', 'sim-h003-hub': 'b-0007' } });
    expect(rec.header.clients.map((c) => c.id)).toEqual(['d-0412', 'b-0007', 'sim-h003-bed-1']);
    const actions = await all(rec.actions());
    expect(actions.map((a) => `${a.client} ${a.op}${a.op === 'publish' ? ` ${a.topic}` : ''}`)).toEqual([
      'd-0412 connect',
      `d-0412 publish ${up('d-0412')}`,
      'b-0007 publish tryggheim/v1/bridges/b-0007/0x01',
      `sim-h003-bed-1 publish ${up('sim-h003-bed-1')}`,
    ]);
    await expect(openRecording(file, { retarget: { 'sim-h009-x': 'd-1' } })).rejects.toThrow(
      /:1: retarget: client sim-h009-x is not in this recording/,
    );
    await expect(openRecording(file, { retarget: { 'sim-h003-lock-1': 'sim-h003-bed-1' } })).rejects.toThrow(
      /also a client of this recording/,
    );
  });
});
