// Replays packet vectors against a running broker, one fresh TCP socket per vector, and records what the
// broker did: the bytes it sent, whether and when it closed the connection, and whether it still answered
// a PINGREQ when it kept the connection open. Judging the outcome against mosquitto's expectation lives
// in compare.ts; this file only observes, within a hard time budget per vector.
import {
  buildAck,
  buildConnect,
  buildPublish,
  decodeVarint,
  hex,
  PacketType,
  PINGREQ,
  PINGRESP,
  RawClient,
  type RawCloseInfo,
  splitPackets,
} from '../../support/raw-mqtt.js';
import type { Step, Vector } from './load.js';

export interface RunOptions {
  port: number;
  host?: string;
  /** Whole budget of one vector, connect to verdict (ms). */
  budgetMs: number;
  /** Kept back from waiting for replies so that a silent connection can still be probed with PINGREQ. */
  probeReserveMs: number;
  /**
   * Where mosquitto expects the broker to close the connection: how long to wait for the close before
   * probing with PINGREQ. A PINGRESP then counts as "kept the connection open"; a close as closed; silence
   * until the budget runs out as a hang.
   */
  closeWaitMs: number;
  /** Client id of the default CONNECT (mosquitto uses the test name; see packet-vectors.test.ts). */
  clientId: string;
  /** Client id of the helper that performs `external_publish` steps. */
  helperClientId: string;
}

/**
 * Where a script stopped being what mosquitto expects. Message ids of the broker's own flows are shown in
 * mosquitto's numbering (see MessageIdMap.toMosquittoIds).
 */
export interface Mismatch {
  /** Index into `script`, or `script.length` for mosquitto's final PINGREQ check. */
  stepIndex: number;
  expected: Buffer;
  got: Buffer;
  /** The broker had closed the connection by the time we gave up reading. */
  closed: boolean;
}

/**
 * How the connection ended up:
 *  closed           the broker closed it (FIN or reset);
 *  open-responsive  still open, and it answered a PINGREQ (the broker is alive and chose to keep it);
 *  unresponsive     still open and silent: neither closed nor answering inside the budget. A hang.
 */
export type Ending = 'closed' | 'open-responsive' | 'unresponsive';

export interface VectorRun {
  vector: Vector;
  /** The steps actually replayed: the default CONNECT/CONNACK (when the vector has one) + the vector's. */
  script: Step[];
  /** Steps completed as mosquitto expects (== script.length when the whole script matched). */
  completed: number;
  mismatch: Mismatch | undefined;
  /** Bytes that arrived while we waited for the close mosquitto expects. */
  unexpectedBeforeClose: Buffer | undefined;
  /** The final PINGREQ check (vectors that expect the connection to stay up) got its PINGRESP. */
  finalPingOk: boolean | undefined;
  ending: Ending;
  close: RawCloseInfo | undefined;
  elapsedMs: number;
  /** Everything the broker sent, for diagnostics. */
  received: Buffer;
  /** Problems of the harness itself (helper publisher failed, connect refused...). Always a failure. */
  harnessError: string | undefined;
  /** Tolerated deviations that are not differences (broker-chosen message ids, reordered packets). */
  notes: string[];
}

const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/** The script mosquitto's runner would execute for this vector (default CONNECT first when it has one). */
export function scriptOf(vector: Vector, clientId: string): Step[] {
  if (!vector.defaultConnect) return vector.steps;
  const connect = buildConnect({ clientId, protocolVersion: vector.protocolVersion, keepaliveSec: 60, clean: true });
  return [
    { kind: 'send', bytes: connect, source: `default CONNECT (client id ${clientId})` },
    { kind: 'recv', bytes: CONNACK_OK, source: '20 r2 00 00', comment: 'default connack' },
    ...vector.steps,
  ];
}

function containsAt(haystack: Buffer, needle: Buffer, from: number): boolean {
  return haystack.indexOf(needle, from) >= 0;
}

/**
 * Sends PINGREQ (if the socket is writable) and waits until a PINGRESP arrives after it, or the broker
 * closes, or `ms` pass.
 */
async function probe(client: RawClient, ms: number): Promise<'pong' | 'closed' | 'silent'> {
  if (client.closedInfo()) return 'closed';
  const mark = client.receivedAll().length;
  client.write(PINGREQ);
  const deadline = performance.now() + ms;
  for (;;) {
    if (containsAt(client.receivedAll(), PINGRESP, mark)) return 'pong';
    if (client.closedInfo()) return 'closed';
    const left = deadline - performance.now();
    if (left <= 0) return 'silent';
    await client.waitForActivity(left);
    // waitForActivity returns at once while bytes are buffered: consume them, the transcript keeps them.
    client.drain();
  }
}

/** mosquitto's helper: connect as another client, publish, complete the QoS handshake, close. */
export async function externalPublish(
  port: number,
  host: string,
  clientId: string,
  step: Extract<Step, { kind: 'external_publish' }>,
  timeoutMs: number,
): Promise<void> {
  const helper = await RawClient.connect(port, host, timeoutMs);
  try {
    helper.write(buildConnect({ clientId, protocolVersion: 4 }));
    const connack = await helper.read(4, timeoutMs);
    if (!connack.equals(CONNACK_OK)) throw new Error(`helper CONNACK ${hex(connack)} (closed: ${helper.closedInfo() !== undefined})`);
    helper.write(buildPublish({ topic: step.topic, qos: step.qos, messageId: 1, payload: step.payload }));
    if (step.qos === 1) {
      const p = await helper.readPacket(timeoutMs);
      if (p?.type !== PacketType.PUBACK) throw new Error(`helper expected PUBACK, got ${p ? hex(p.bytes) : 'nothing'}`);
    } else if (step.qos === 2) {
      const rec = await helper.readPacket(timeoutMs);
      if (rec?.type !== PacketType.PUBREC) throw new Error(`helper expected PUBREC, got ${rec ? hex(rec.bytes) : 'nothing'}`);
      helper.write(buildAck(0x62, 1));
      const comp = await helper.readPacket(timeoutMs);
      if (comp?.type !== PacketType.PUBCOMP) throw new Error(`helper expected PUBCOMP, got ${comp ? hex(comp.bytes) : 'nothing'}`);
    }
  } finally {
    helper.destroy();
  }
}

/** first byte → packet of a QoS flow the broker started (its PUBLISH to us), carrying the broker's message id. */
const ACK_OF_BROKER_FLOW_SENT = new Set([0x40, 0x50, 0x70]); // our PUBACK / PUBREC / PUBCOMP
const ACK_OF_BROKER_FLOW_RECV = new Set([0x62]); // its PUBREL

/**
 * The packet identifier of a QoS 1/2 PUBLISH the broker sends is the broker's choice ([MQTT-2.3.1]);
 * mosquitto's table assumes mosquitto's (1, 2, ...). When the broker picks another, the vector's later
 * acknowledgements of that flow are rewritten to the broker's id, so the rest of the vector still tests
 * what it meant to.
 */
export class MessageIdMap {
  private readonly map = new Map<number, number>();

  learn(expected: number, actual: number): void {
    this.map.set(expected, actual);
  }

  private rewrite(stream: Buffer, firstBytes: ReadonlySet<number>): Buffer {
    if (this.map.size === 0) return stream;
    const { packets, rest } = splitPackets(stream);
    const out = packets.map((p) => {
      const first = p.bytes[0];
      if (first === undefined || !firstBytes.has(first) || p.bytes.length !== 4 || p.bytes[1] !== 2) return p.bytes;
      const mapped = this.map.get(p.bytes.readUInt16BE(2));
      if (mapped === undefined) return p.bytes;
      const copy = Buffer.from(p.bytes);
      copy.writeUInt16BE(mapped, 2);
      return copy;
    });
    return Buffer.concat([...out, rest]);
  }

  rewriteSent(stream: Buffer): Buffer {
    return this.rewrite(stream, ACK_OF_BROKER_FLOW_SENT);
  }

  rewriteExpected(stream: Buffer): Buffer {
    return this.rewrite(stream, ACK_OF_BROKER_FLOW_RECV);
  }

  /**
   * What the broker sent, with the message ids of its own flows (its PUBLISH, its PUBREL) mapped back to
   * mosquitto's numbering: reports stay stable although the broker's ids are not.
   */
  toMosquittoIds(stream: Buffer): Buffer {
    if (this.map.size === 0) return stream;
    const reverse = new Map([...this.map].map(([e, a]) => [a, e]));
    const { packets, rest } = splitPackets(stream);
    const out = packets.map((p) => {
      const first = p.bytes[0];
      const off =
        publishMidOffset(p.bytes) ?? (first !== undefined && ACK_OF_BROKER_FLOW_RECV.has(first) && p.bytes.length === 4 ? 2 : undefined);
      if (off === undefined) return p.bytes;
      const original = reverse.get(p.bytes.readUInt16BE(off));
      if (original === undefined) return p.bytes;
      const copy = Buffer.from(p.bytes);
      copy.writeUInt16BE(original, off);
      return copy;
    });
    return Buffer.concat([...out, rest]);
  }
}

/** Offset of the message id in a QoS 1/2 PUBLISH, or undefined for anything else. */
function publishMidOffset(p: Buffer): number | undefined {
  const first = p[0];
  if (first === undefined || first >> 4 !== PacketType.PUBLISH || ((first >> 1) & 3) === 0) return undefined;
  const rl = decodeVarint(p, 1);
  if (!rl) return undefined;
  const topicAt = 1 + rl.length;
  if (p.length < topicAt + 2) return undefined;
  const off = topicAt + 2 + p.readUInt16BE(topicAt);
  return off + 2 <= p.length ? off : undefined;
}

/**
 * Compares what arrived with what mosquitto sends, tolerating (a) packets of different flows in another
 * order, and (b) a broker-chosen message id in the broker's own QoS 1/2 PUBLISH (learned into `mids`).
 * Anything else must be byte-identical.
 */
export function matchReceived(expectedRaw: Buffer, got: Buffer, mids: MessageIdMap): { ok: boolean; notes: string[] } {
  const expected = mids.rewriteExpected(expectedRaw);
  if (got.equals(expected)) return { ok: true, notes: [] };
  if (got.length !== expected.length) return { ok: false, notes: [] };
  const exp = splitPackets(expected);
  const act = splitPackets(got);
  if (exp.rest.length > 0 || act.rest.length > 0 || exp.packets.some((p) => !p.complete) || act.packets.some((p) => !p.complete)) {
    return { ok: false, notes: [] };
  }
  const used = new Set<number>();
  const notes: string[] = [];
  const learned: [number, number][] = [];
  let reordered = false;
  for (const [ei, e] of exp.packets.entries()) {
    let found = -1;
    for (const [ai, a] of act.packets.entries()) {
      if (used.has(ai) || a.bytes.length !== e.bytes.length) continue;
      if (a.bytes.equals(e.bytes)) {
        found = ai;
        break;
      }
      const off = publishMidOffset(e.bytes);
      if (off !== undefined && publishMidOffset(a.bytes) === off) {
        const sameButMid = Buffer.concat([e.bytes.subarray(0, off), a.bytes.subarray(off, off + 2), e.bytes.subarray(off + 2)]);
        if (sameButMid.equals(a.bytes)) {
          found = ai;
          learned.push([e.bytes.readUInt16BE(off), a.bytes.readUInt16BE(off)]);
          break;
        }
      }
    }
    if (found < 0) return { ok: false, notes: [] };
    if (found !== ei) reordered = true;
    used.add(found);
  }
  for (const [e, a] of learned) {
    mids.learn(e, a);
    notes.push(`broker chose message id ${a} for its PUBLISH (mosquitto: ${e})`);
  }
  if (reordered) notes.push('packets of different flows arrived in another order than mosquitto sends them');
  return { ok: true, notes };
}

export async function runVector(vector: Vector, opts: RunOptions): Promise<VectorRun> {
  const host = opts.host ?? '127.0.0.1';
  const t0 = performance.now();
  const deadline = t0 + opts.budgetMs;
  const replyDeadline = deadline - opts.probeReserveMs;
  const script = scriptOf(vector, opts.clientId);
  const run: VectorRun = {
    vector,
    script,
    completed: 0,
    mismatch: undefined,
    unexpectedBeforeClose: undefined,
    finalPingOk: undefined,
    ending: 'unresponsive',
    close: undefined,
    elapsedMs: 0,
    received: Buffer.alloc(0),
    harnessError: undefined,
    notes: [],
  };

  let client: RawClient;
  try {
    client = await RawClient.connect(opts.port, host, opts.budgetMs);
  } catch (err) {
    run.harnessError = `TCP connect failed: ${(err as Error).message}`;
    run.elapsedMs = performance.now() - t0;
    return run;
  }

  try {
    // 1. The script.
    const mids = new MessageIdMap();
    for (let i = 0; i < script.length; i++) {
      const step = script[i];
      if (step === undefined) break;
      if (step.kind === 'send') {
        if (!client.write(mids.rewriteSent(step.bytes))) break; // closed under us: nothing more can happen on this socket
      } else if (step.kind === 'recv') {
        // A run of consecutive recv steps is read as one: MQTT does not order packets of different flows.
        let j = i;
        while (script[j + 1]?.kind === 'recv') j++;
        const expected = Buffer.concat(script.slice(i, j + 1).flatMap((s) => (s.kind === 'recv' ? [s.bytes] : [])));
        const got = await client.read(expected.length, Math.max(0, replyDeadline - performance.now()));
        const verdict = matchReceived(expected, got, mids);
        if (!verdict.ok) {
          run.mismatch = { stepIndex: i, expected, got: mids.toMosquittoIds(got), closed: client.closedInfo() !== undefined };
          break;
        }
        run.notes.push(...verdict.notes.map((n) => `step ${i}: ${n}`));
        i = j;
      } else {
        try {
          await externalPublish(opts.port, host, opts.helperClientId, step, Math.max(1, replyDeadline - performance.now()));
        } catch (err) {
          run.harnessError = `external_publish: ${(err as Error).message}`;
          break;
        }
      }
      run.completed = i + 1;
    }

    // 2. mosquitto's final check, when the script ran to completion.
    if (run.completed === script.length && run.harnessError === undefined) {
      if (vector.expectDisconnect) {
        // Wait for the close; collect anything the broker says meanwhile. If it has not closed by then, the
        // PINGREQ probe below tells "kept it open" (PINGRESP) from "hung" (silence).
        await client.waitForClose(Math.max(0, Math.min(opts.closeWaitMs, replyDeadline - performance.now())));
        const extra = client.drain();
        if (extra.length > 0) run.unexpectedBeforeClose = mids.toMosquittoIds(extra);
      } else {
        // do_ping(): PINGREQ, and the next two bytes must be PINGRESP.
        if (client.write(PINGREQ)) {
          const got = await client.read(2, Math.max(0, deadline - performance.now()));
          run.finalPingOk = got.equals(PINGRESP);
          if (!run.finalPingOk) {
            run.mismatch = {
              stepIndex: script.length,
              expected: PINGRESP,
              got: mids.toMosquittoIds(got),
              closed: client.closedInfo() !== undefined,
            };
          }
        } else {
          run.finalPingOk = false;
          run.mismatch = { stepIndex: script.length, expected: PINGRESP, got: Buffer.alloc(0), closed: true };
        }
      }
    }

    // 3. How did the connection end up? A connection still open gets a PINGREQ: alive, or hung.
    if (client.closedInfo()) {
      run.ending = 'closed';
    } else if (run.finalPingOk === true) {
      run.ending = 'open-responsive';
    } else {
      const r = await probe(client, Math.max(50, deadline - performance.now()));
      run.ending = r === 'pong' ? 'open-responsive' : r === 'closed' ? 'closed' : 'unresponsive';
    }
    run.close = client.closedInfo()?.how === 'local' ? undefined : client.closedInfo();
  } finally {
    run.received = client.receivedAll();
    client.destroy();
    run.elapsedMs = performance.now() - t0;
  }
  return run;
}

/**
 * Runs vectors with bounded concurrency, respecting their `sharing`: subscribers never overlap publishers,
 * 'alone' vectors run by themselves, two vectors with the same client id never overlap, and the table's
 * order is kept between conflicting vectors (mosquitto runs them one by one, and retained messages carry
 * from one vector to the next).
 */
export async function runVectors(
  vectors: readonly Vector[],
  concurrency: number,
  runOne: (v: Vector, index: number) => Promise<VectorRun>,
): Promise<VectorRun[]> {
  const results: VectorRun[] = [];
  let i = 0;
  while (i < vectors.length) {
    const batch: { v: Vector; index: number }[] = [];
    let hasSub = false;
    let hasPub = false;
    const ids = new Set<string>();
    while (i < vectors.length && batch.length < concurrency) {
      const v = vectors[i];
      if (v === undefined) break;
      const alone = v.sharing === 'alone' || v.ownClientId === null;
      const conflicts =
        (v.sharing === 'subscriber' && hasPub) ||
        (v.sharing === 'publisher' && hasSub) ||
        (typeof v.ownClientId === 'string' && ids.has(v.ownClientId));
      if (batch.length > 0 && (alone || conflicts)) break;
      batch.push({ v, index: i });
      i++;
      if (alone) break;
      if (v.sharing === 'subscriber') hasSub = true;
      if (v.sharing === 'publisher') hasPub = true;
      if (typeof v.ownClientId === 'string') ids.add(v.ownClientId);
    }
    results.push(...(await Promise.all(batch.map(({ v, index }) => runOne(v, index)))));
  }
  return results;
}

/**
 * Liveness: a fresh, well-formed CONNECT still gets its CONNACK. With `expectAccepted` the broker must
 * accept it (return code 0) and answer PINGREQ; otherwise it must refuse it (non-zero code) and close.
 * Returns undefined when the broker behaved, else what went wrong.
 */
export async function checkBrokerAnswers(
  port: number,
  clientId: string,
  expectAccepted: boolean,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<string | undefined> {
  let client: RawClient;
  try {
    client = await RawClient.connect(port, host, timeoutMs);
  } catch (err) {
    return `TCP connect failed: ${(err as Error).message}`;
  }
  try {
    // Credentials in the production shape (username = client id), for a device that does not exist.
    client.write(buildConnect({ clientId, protocolVersion: 4, username: clientId, password: 'liveness-probe' }));
    const connack = await client.readPacket(timeoutMs);
    if (connack?.type !== PacketType.CONNACK || connack.bytes.length !== 4) {
      return `no CONNACK to a well-formed CONNECT (got ${connack ? hex(connack.bytes) : 'nothing'}, closed: ${client.closedInfo() !== undefined})`;
    }
    const rc = connack.bytes[3];
    if (expectAccepted) {
      if (rc !== 0) return `CONNACK return code ${rc}, expected 0`;
      client.write(PINGREQ);
      const pong = await client.readPacket(timeoutMs);
      if (pong?.type !== PacketType.PINGRESP) return `no PINGRESP after CONNACK (got ${pong ? hex(pong.bytes) : 'nothing'})`;
      return undefined;
    }
    if (rc === 0) return 'CONNACK return code 0 although no device exists';
    if (!(await client.waitForClose(timeoutMs))) return `refused CONNECT (rc ${rc}) but the connection was not closed`;
    return undefined;
  } finally {
    client.destroy();
  }
}
