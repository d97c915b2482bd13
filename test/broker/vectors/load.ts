// Loads mosquitto's packet-vector table (test/broker/data/*.json in the mosquitto repository) into
// byte-level scripts. Semantics follow mosquitto's runner (msg_sequence_test.py):
//  - group fields `ver` (default 4), `connect` (default true), `expect_disconnect` (default true) and
//    `disable`; a test's own `ver` / `connect` / `expect_disconnect` override the group's;
//  - `connect: true` means the runner first sends a default CONNECT (clean session, keepalive 60) and
//    expects CONNACK 20 02 00 00;
//  - at the end the socket must be closed by the broker (expect_disconnect) or still answer a PINGREQ.
// Only MQTT 3.1 / 3.1.1 vectors (ver 3 or 4) are runnable here: aedes 1.2.0 does not speak MQTT 5.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { decodeVarint, PacketType, splitPackets } from '../../support/raw-mqtt.js';
import { parsePayload } from './parse.js';

/** A copy of mosquitto's table, committed with its provenance and licence note (test/fixtures/mqtt-vectors/PROVENANCE.txt). */
export const DEFAULT_VECTOR_DIR = new URL('../../fixtures/mqtt-vectors/', import.meta.url).pathname;

/** Where the table lives: $TRYGGHEIM_PACKET_VECTORS_DIR, else the committed copy. Throws when absent. */
export function vectorDir(): string {
  const dir = process.env.TRYGGHEIM_PACKET_VECTORS_DIR ?? DEFAULT_VECTOR_DIR;
  if (!existsSync(dir)) {
    throw new Error(`packet vector table not found at ${dir} (set TRYGGHEIM_PACKET_VECTORS_DIR)`);
  }
  return dir;
}

const MsgSchema = z.union([
  z.object({ type: z.enum(['send', 'recv']), payload: z.string(), comment: z.string().optional() }),
  z.object({
    type: z.literal('external_publish'),
    topic: z.string(),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]),
    payload: z.string(),
    comment: z.string().optional(),
  }),
]);

const VerSchema = z.union([z.literal(3), z.literal(4), z.literal(5)]);

const TestSchema = z.object({
  name: z.string(),
  msgs: z.array(MsgSchema),
  ver: VerSchema.optional(),
  connect: z.boolean().optional(),
  expect_disconnect: z.boolean().optional(),
});

const GroupSchema = z.object({
  group: z.string(),
  tests: z.array(TestSchema),
  ver: VerSchema.optional(),
  connect: z.boolean().optional(),
  expect_disconnect: z.boolean().optional(),
  disable: z.boolean().optional(),
});

const FileSchema = z.array(GroupSchema);

export type Step =
  | { kind: 'send'; bytes: Buffer; source: string; comment?: string | undefined }
  | { kind: 'recv'; bytes: Buffer; source: string; comment?: string | undefined }
  /** Another client publishes (mosquitto's helper: connect, publish, complete the QoS flow, close). */
  | { kind: 'external_publish'; topic: string; qos: 0 | 1 | 2; payload: Buffer };

/**
 * How a vector may share the broker with others running at the same time. Vectors that subscribe must not
 * overlap with vectors that publish (a subscriber would receive a stranger's message); vectors that do
 * both, or use a helper publisher, run alone.
 */
export type Sharing = 'free' | 'subscriber' | 'publisher' | 'alone';

export interface Vector {
  /** Stable, unique: "<file without .json> / <group> / <test name>", whitespace normalised. */
  id: string;
  file: string;
  group: string;
  name: string;
  /** 3 = MQTT 3.1, 4 = MQTT 3.1.1 */
  protocolVersion: 3 | 4;
  /** Send the default CONNECT (and expect CONNACK 0) before the steps. */
  defaultConnect: boolean;
  expectDisconnect: boolean;
  steps: Step[];
  sharing: Sharing;
  /**
   * Vectors that send their own CONNECT: the client id in it ('p' in most of mosquitto's), or null when it
   * cannot be read. Two connections with one client id take each other's session over, so the runner never
   * runs two vectors with the same id at once (and runs a null one alone). Undefined for vectors that use
   * the default CONNECT: the runner gives those a unique id.
   */
  ownClientId: string | null | undefined;
}

export interface SkippedVector {
  id: string;
  file: string;
  reason: 'mqtt5' | 'disabled';
}

export interface VectorTable {
  dir: string;
  files: string[];
  vectors: Vector[];
  skipped: SkippedVector[];
}

const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Packet types in a byte stream (best effort: stops at the first unframeable header). */
function packetTypes(stream: Buffer): { types: Set<number>; willFlag: boolean } {
  const types = new Set<number>();
  let willFlag = false;
  for (const p of splitPackets(stream).packets) {
    types.add(p.type);
    if (p.type === PacketType.CONNECT) {
      // Variable header: protocol name (length-prefixed), protocol level, connect flags.
      const rl = decodeVarint(p.bytes, 1);
      const body = p.bytes.subarray(1 + (rl?.length ?? 0));
      const nameLen = body.length >= 2 ? body.readUInt16BE(0) : 0;
      const flags = body[2 + nameLen + 1];
      if (flags !== undefined && (flags & 0x04) !== 0) willFlag = true;
    }
  }
  return { types, willFlag };
}

/** The client id in the first CONNECT of a byte stream, or null if there is none or it cannot be read. */
export function connectClientId(stream: Buffer): string | null {
  const p = splitPackets(stream).packets[0];
  if (p?.type !== PacketType.CONNECT) return null;
  const rl = decodeVarint(p.bytes, 1);
  if (!rl) return null;
  const body = p.bytes.subarray(1 + rl.length);
  if (body.length < 2) return null;
  const at = 2 + body.readUInt16BE(0) + 1 + 1 + 2; // protocol name, level, flags, keepalive
  if (body.length < at + 2) return null;
  const len = body.readUInt16BE(at);
  if (body.length < at + 2 + len) return null;
  return body.subarray(at + 2, at + 2 + len).toString('latin1');
}

function sharingOf(steps: readonly Step[]): Sharing {
  const sent = Buffer.concat(steps.flatMap((s) => (s.kind === 'send' ? [s.bytes] : [])));
  const { types, willFlag } = packetTypes(sent);
  const subscribes = types.has(PacketType.SUBSCRIBE);
  // A will is published when the connection dies: count it as a publish.
  const publishes = types.has(PacketType.PUBLISH) || willFlag || steps.some((s) => s.kind === 'external_publish');
  if (subscribes && publishes) return 'alone';
  if (steps.some((s) => s.kind === 'external_publish')) return 'alone';
  if (subscribes) return 'subscriber';
  if (publishes) return 'publisher';
  return 'free';
}

export function loadVectorFile(file: string, json: unknown): { vectors: Vector[]; skipped: SkippedVector[] } {
  const groups = FileSchema.parse(json);
  const vectors: Vector[] = [];
  const skipped: SkippedVector[] = [];
  const base = path.basename(file, '.json');
  for (const g of groups) {
    for (const t of g.tests) {
      const id = `${base} / ${norm(g.group)} / ${norm(t.name)}`;
      if (g.disable === true) {
        skipped.push({ id, file, reason: 'disabled' });
        continue;
      }
      const ver = t.ver ?? g.ver ?? 4;
      if (ver === 5) {
        skipped.push({ id, file, reason: 'mqtt5' });
        continue;
      }
      const steps: Step[] = t.msgs.map((m, i): Step => {
        if (m.type === 'external_publish') {
          return { kind: 'external_publish', topic: m.topic, qos: m.qos, payload: Buffer.from(m.payload, 'utf8') };
        }
        try {
          return { kind: m.type, bytes: parsePayload(m.payload), source: m.payload, comment: m.comment };
        } catch (err) {
          throw new Error(`${id}: msgs[${i}]: ${(err as Error).message}`, { cause: err });
        }
      });
      vectors.push({
        id,
        file: path.basename(file),
        group: g.group,
        name: t.name,
        protocolVersion: ver,
        defaultConnect: t.connect ?? g.connect ?? true,
        expectDisconnect: t.expect_disconnect ?? g.expect_disconnect ?? true,
        steps,
        sharing: sharingOf(steps),
        ownClientId:
          (t.connect ?? g.connect ?? true)
            ? undefined
            : connectClientId(Buffer.concat(steps.flatMap((s) => (s.kind === 'send' ? [s.bytes] : [])))),
      });
    }
  }
  return { vectors, skipped };
}

/** Makes ids unique (a group may hold two tests whose names differ only in whitespace). */
function dedupeIds(items: { id: string }[]): void {
  const seen = new Map<string, number>();
  for (const it of items) {
    const n = (seen.get(it.id) ?? 0) + 1;
    seen.set(it.id, n);
    if (n > 1) it.id = `${it.id} (#${n})`;
  }
}

/** Loads every *.json of the table, in mosquitto's order (sorted file names, then file order). */
export function loadVectorTable(dir: string = vectorDir()): VectorTable {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const vectors: Vector[] = [];
  const skipped: SkippedVector[] = [];
  for (const f of files) {
    const json: unknown = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    const r = loadVectorFile(f, json);
    vectors.push(...r.vectors);
    skipped.push(...r.skipped);
  }
  dedupeIds(vectors);
  dedupeIds(skipped);
  return { dir, files, vectors, skipped };
}
