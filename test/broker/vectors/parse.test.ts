import { describe, expect, it } from 'vitest';
import { buildConnect, decodeVarint, encodeVarint, splitPackets } from '../../support/raw-mqtt.js';
import { judge } from './compare.js';
import { connectClientId, loadVectorFile, loadVectorTable } from './load.js';
import { parsePayload, VectorSyntaxError } from './parse.js';
import { matchReceived, MessageIdMap, runVectors, scriptOf, type VectorRun } from './run.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('vector payload mini-language', () => {
  it('parses hex, integer, string and varint tokens', () => {
    expect(parsePayload("10 r13 s4 'MQTT' 04 02 k10 s1 'p'")).toEqual(h('10 0d 0004 4d515454 04 02 000a 0001 70'));
    expect(parsePayload('i0 i255 H258 m1234 L16909060')).toEqual(h('00 ff 0102 04d2 01020304'));
    expect(parsePayload('0000 A2 b0')).toEqual(h('0000 a2 b0'));
    expect(parsePayload('')).toEqual(Buffer.alloc(0));
  });

  it('encodes varints like mosquitto, including the non-compliant ≥ 2^28 values', () => {
    expect(parsePayload('r0')).toEqual(h('00'));
    expect(parsePayload('v127 v128 v16383 v16384')).toEqual(h('7f 8001 ff7f 808001'));
    expect(parsePayload('r268435455')).toEqual(h('ffffff7f'));
    expect(parsePayload('r268435456')).toEqual(h('8080808001')); // five bytes, on purpose
    expect(parsePayload('r999999999')).toEqual(encodeVarint(999999999));
    expect(encodeVarint(999999999).length).toBe(5);
  });

  it('keeps spaces inside quoted strings that span tokens, and UTF-8', () => {
    expect(parsePayload("'a b  c' 00")).toEqual(Buffer.concat([Buffer.from('a b  c'), h('00')]));
    expect(parsePayload("'' 01")).toEqual(h('01'));
    expect(parsePayload("'æøå'")).toEqual(Buffer.from('æøå', 'utf8'));
  });

  it('rejects what the original would reject instead of guessing', () => {
    expect(() => parsePayload('i256')).toThrow(VectorSyntaxError);
    expect(() => parsePayload('s65536')).toThrow(VectorSyntaxError);
    expect(() => parsePayload('L4294967296')).toThrow(VectorSyntaxError);
    expect(() => parsePayload('0g')).toThrow(VectorSyntaxError);
    expect(() => parsePayload('abc')).toThrow(VectorSyntaxError); // odd number of hex digits
    expect(() => parsePayload("'open")).toThrow(VectorSyntaxError);
    expect(() => parsePayload('sx')).toThrow(VectorSyntaxError);
  });
});

describe('raw MQTT helpers', () => {
  it('frames a byte stream into packets', () => {
    const stream = Buffer.concat([h('c000'), h('3005 0001 70 6869'), h('8206')]);
    const { packets, rest } = splitPackets(stream);
    expect(packets.map((p) => [p.type, p.complete])).toEqual([
      [12, true],
      [3, true],
      [8, false],
    ]);
    expect(rest.length).toBe(0);
    expect(decodeVarint(h('ffffff7f'))).toEqual({ value: 268435455, length: 4 });
    expect(decodeVarint(h('ffffffff01'))).toBeUndefined();
  });

  it('builds the CONNECT mosquitto’s gen_connect builds', () => {
    // gen_connect("p", proto_ver=4): clean session, keepalive 60
    expect(buildConnect({ clientId: 'p' })).toEqual(parsePayload("10 r13 s4 'MQTT' 04 02 k60 s1 'p'"));
    expect(buildConnect({ clientId: 'p', protocolVersion: 3 })).toEqual(parsePayload("10 r15 s6 'MQIsdp' 03 02 k60 s1 'p'"));
  });
});

describe('vector loader', () => {
  const file = [
    {
      group: 'v3.1.1 X',
      ver: 4,
      tests: [
        {
          name: 'a',
          msgs: [
            { type: 'send', payload: "82 r6 m1 s1 'p' 00" },
            { type: 'recv', payload: '90 r3 m1 00' },
          ],
          expect_disconnect: false,
        },
        { name: 'b', connect: false, msgs: [{ type: 'send', payload: '10 r0' }] },
        { name: 'c', ver: 5, msgs: [] },
        { name: 'd', msgs: [{ type: 'external_publish', topic: 'p', qos: 1, payload: 'message' }] },
        { name: 'e', msgs: [{ type: 'send', payload: "30 r4 s1 'p' 'x'" }] },
      ],
    },
    { group: 'v5.0 X', ver: 5, tests: [{ name: 'a', msgs: [] }] },
    { group: 'no ver', tests: [{ name: 'z', msgs: [] }] },
  ];

  it('applies mosquitto’s defaults and overrides, and names what it skips', () => {
    const { vectors, skipped } = loadVectorFile('X.json', file);
    expect(vectors.map((v) => [v.id, v.protocolVersion, v.defaultConnect, v.expectDisconnect, v.sharing, v.ownClientId])).toEqual([
      ['X / v3.1.1 X / a', 4, true, false, 'subscriber', undefined],
      ['X / v3.1.1 X / b', 4, false, true, 'free', null], // "10 r0": no client id to read
      ['X / v3.1.1 X / d', 4, true, true, 'alone', undefined],
      ['X / v3.1.1 X / e', 4, true, true, 'publisher', undefined],
      ['X / no ver / z', 4, true, true, 'free', undefined],
    ]);
    expect(skipped).toEqual([
      { id: 'X / v3.1.1 X / c', file: 'X.json', reason: 'mqtt5' },
      { id: 'X / v5.0 X / a', file: 'X.json', reason: 'mqtt5' },
    ]);
  });

  it('rejects unknown message types and bad payloads with the vector named', () => {
    expect(() => loadVectorFile('Y.json', [{ group: 'g', tests: [{ name: 't', msgs: [{ type: 'publish', payload: '' }] }] }])).toThrow();
    expect(() => loadVectorFile('Y.json', [{ group: 'g', tests: [{ name: 't', msgs: [{ type: 'send', payload: 'zz' }] }] }])).toThrow(
      /Y \/ g \/ t/,
    );
  });

  it('prepends the default CONNECT and CONNACK', () => {
    const [v] = loadVectorFile('X.json', file).vectors;
    if (!v) throw new Error('no vector');
    const script = scriptOf(v, 'cid');
    expect(script.map((s) => s.kind)).toEqual(['send', 'recv', 'send', 'recv']);
    expect(script[1]?.kind === 'recv' && script[1].bytes).toEqual(h('20020000'));
  });

  it('loads the whole mosquitto table: ~308 MQTT 3.1/3.1.1 vectors, MQTT 5 counted as skipped', () => {
    const table = loadVectorTable();
    expect(table.vectors.length).toBeGreaterThanOrEqual(300);
    expect(new Set(table.vectors.map((v) => v.protocolVersion))).toEqual(new Set([3, 4]));
    expect(new Set(table.vectors.map((v) => v.id)).size).toBe(table.vectors.length);
    expect(table.skipped.filter((s) => s.reason === 'mqtt5').length).toBeGreaterThan(1000);
  });
});

describe('reading client ids and batching', () => {
  it('reads the client id of a CONNECT, null when it cannot', () => {
    expect(connectClientId(parsePayload("10 r13 s4 'MQTT' 04 02 k10 s1 'p'"))).toBe('p');
    expect(connectClientId(parsePayload("10 r15 s6 'MQIsdp' 03 02 k10 s1 'q'"))).toBe('q');
    expect(connectClientId(parsePayload("10 r6 s4 'MQTT'"))).toBeNull();
    expect(connectClientId(parsePayload('c0 00'))).toBeNull();
  });

  it('never runs two vectors with one client id, a subscriber with a publisher, or an alone vector with any', async () => {
    const mk = (name: string, sharing: 'free' | 'subscriber' | 'publisher' | 'alone', ownClientId?: string | null) => ({
      id: name,
      file: 'F.json',
      group: 'g',
      name,
      protocolVersion: 4 as const,
      defaultConnect: ownClientId === undefined,
      expectDisconnect: true,
      steps: [],
      sharing,
      ownClientId,
    });
    const vs = [
      mk('a', 'free', 'p'),
      mk('b', 'free', 'p'),
      mk('c', 'subscriber'),
      mk('d', 'subscriber'),
      mk('e', 'publisher'),
      mk('f', 'alone'),
      mk('g', 'free', null),
      mk('h', 'free'),
      mk('i', 'free'),
    ];
    const batches: string[][] = [];
    let current: string[] = [];
    let inFlight = 0;
    await runVectors(vs, 8, async (v) => {
      if (inFlight === 0) {
        current = [];
        batches.push(current);
      }
      inFlight++;
      current.push(v.id);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return { vector: v } as VectorRun;
    });
    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['e'], ['f'], ['g'], ['h', 'i']]);
  });
});

describe('matching what the broker sent', () => {
  it('accepts a broker-chosen message id in its PUBLISH and rewrites later acks of that flow', () => {
    const mids = new MessageIdMap();
    const expected = parsePayload("32 r12 s1 'p' m1 'message'");
    const got = parsePayload("32 r12 s1 'p' m4711 'message'");
    expect(matchReceived(expected, got, mids)).toEqual({
      ok: true,
      notes: ['broker chose message id 4711 for its PUBLISH (mosquitto: 1)'],
    });
    expect(mids.rewriteSent(parsePayload('40 r2 m1'))).toEqual(parsePayload('40 r2 m4711')); // our PUBACK
    expect(mids.rewriteSent(parsePayload('62 r2 m1'))).toEqual(parsePayload('62 r2 m1')); // our PUBREL: our own flow
    expect(mids.rewriteExpected(parsePayload('62 r2 m1'))).toEqual(parsePayload('62 r2 m4711')); // its PUBREL
    expect(mids.rewriteExpected(parsePayload('40 r2 m1'))).toEqual(parsePayload('40 r2 m1')); // its PUBACK of our PUBLISH
    // Reports show the broker's ids in mosquitto's numbering.
    expect(mids.toMosquittoIds(parsePayload("62 r2 m4711 40 r2 m4711 32 r12 s1 'p' m4711 'message'"))).toEqual(
      parsePayload("62 r2 m1 40 r2 m4711 32 r12 s1 'p' m1 'message'"),
    );
  });

  it('accepts packets of different flows in another order, nothing else', () => {
    const exp = parsePayload("32 r8 s1 'p' m1 'msg' 40 r2 m2");
    expect(matchReceived(exp, parsePayload("40 r2 m2 32 r8 s1 'p' m9 'msg'"), new MessageIdMap()).ok).toBe(true);
    expect(matchReceived(exp, parsePayload("40 r2 m3 32 r8 s1 'p' m9 'msg'"), new MessageIdMap()).ok).toBe(false);
    expect(matchReceived(exp, parsePayload("40 r2 m2 32 r8 s1 'q' m9 'msg'"), new MessageIdMap()).ok).toBe(false);
    expect(matchReceived(parsePayload('90 r3 m1 00'), parsePayload('90 r3 m1 80'), new MessageIdMap()).ok).toBe(false);
    expect(matchReceived(parsePayload('20 r2 00 00'), parsePayload('20 r2'), new MessageIdMap()).ok).toBe(false);
  });
});

describe('judge', () => {
  const [vector] = loadVectorFile('X.json', [
    {
      group: 'g',
      tests: [
        {
          name: 't',
          msgs: [
            { type: 'send', payload: "82 r6 m1 s1 'p' 00" },
            { type: 'recv', payload: '90 r3 m1 00' },
          ],
        },
      ],
    },
  ]).vectors;
  if (!vector) throw new Error('no vector');
  const base: VectorRun = {
    vector,
    script: scriptOf(vector, 'c'),
    completed: 4,
    mismatch: undefined,
    unexpectedBeforeClose: undefined,
    finalPingOk: undefined,
    ending: 'closed',
    close: { atMs: 3, how: 'end' },
    elapsedMs: 5,
    received: Buffer.alloc(0),
    harnessError: undefined,
    notes: [],
  };

  it('treats a hang, an overrun and a harness error as failures', () => {
    expect(judge({ ...base, ending: 'unresponsive' }, 2000).kind).toBe('fail');
    expect(judge({ ...base, elapsedMs: 2600 }, 2000).kind).toBe('fail');
    expect(judge({ ...base, harnessError: 'x' }, 2000).kind).toBe('fail');
  });

  it('classifies differences', () => {
    expect(judge(base, 2000)).toEqual({ kind: 'same' });
    const refused = judge(
      { ...base, completed: 1, mismatch: { stepIndex: 1, expected: h('20020000'), got: h('20020005'), closed: true } },
      2000,
    );
    expect(refused).toEqual({
      kind: 'differs',
      category: 'connack-differs',
      observed: 'step 1: expected 20020000 got 20020005, then closed',
    });
    expect(judge({ ...base, ending: 'open-responsive' }, 2000)).toMatchObject({ kind: 'differs', category: 'kept-open' });
    expect(
      judge({ ...base, completed: 3, mismatch: { stepIndex: 3, expected: h('90030001'), got: Buffer.alloc(0), closed: true } }, 2000),
    ).toMatchObject({
      category: 'closed-instead-of-reply',
    });
    expect(judge({ ...base, unexpectedBeforeClose: h('e000') }, 2000)).toMatchObject({ category: 'replied-then-closed' });
  });
});
