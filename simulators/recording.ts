import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { PlaySink, PlayedMessage } from './play-types.js';
import { bridgeBase, statusTopic, TOPIC_ROOT, type Action, type ClientKind } from './types.js';

// The recording format (JSON Lines), read and written as streams so a day of a district fits in any memory:
//
//   {"format":"tryggheim-recording","version":1,"timeZone":"Europe/Oslo","start":"2026-11-23T06:00:00.000Z",
//    "source":"sim run normal-day.yaml","clients":[{"id":"sim-h001-lock-1","kind":"device"}]}
//   {"t":1520,"client":"sim-h001-lock-1","topic":"tryggheim/v1/devices/sim-h001-lock-1/up","qos":1,
//    "retain":false,"payload":"{\"type\":\"lock\"}"}
//
// `t` is milliseconds from `start`; the payload is the exact bytes, as UTF-8 text when they are valid
// UTF-8, else as `payloadBase64`. A recording holds what the broker published, status messages included;
// reading turns a client's `online`/`offline` on its own status topic back into connect/drop actions so
// that replaying gives the broker the same messages again (the `offline` a clean DISCONNECT published and
// the will of a lost connection look the same in a recording; both replay as a drop, i.e. as the will).
// Recordings are synthetic test material: never record a home with a patient in it outside a test setting.

export const RECORDING_FORMAT = 'tryggheim-recording';

// Topic-safe like the broker's client ids (no `/ + #`), without importing the broker (black-box rule).
const ClientIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: 'client id must be 1–128 of A-Z a-z 0-9 . _ : -' });

export const RecordingHeaderSchema = z.strictObject({
  format: z.literal(RECORDING_FORMAT),
  version: z.literal(1),
  timeZone: z.string().min(1),
  start: z.iso.datetime({ offset: true }),
  source: z.string(),
  clients: z.array(z.strictObject({ id: ClientIdSchema, kind: z.enum(['device', 'bridge']) })),
});

export const RecordingLineSchema = z
  .strictObject({
    t: z.number().int().min(0),
    client: ClientIdSchema,
    topic: z.string().min(1).max(1024),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]),
    retain: z.boolean(),
    payload: z.string().optional(),
    payloadBase64: z.base64().optional(),
  })
  .refine((l) => (l.payload === undefined) !== (l.payloadBase64 === undefined), { error: 'needs exactly one of payload, payloadBase64' });

export type RecordingHeader = z.infer<typeof RecordingHeaderSchema>;
export type RecordingLine = z.infer<typeof RecordingLineSchema>;

/** A recording that cannot be read: `file:line: what is wrong`. */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function payloadField(bytes: Buffer): { payload: string } | { payloadBase64: string } {
  try {
    return { payload: UTF8.decode(bytes) };
  } catch {
    return { payloadBase64: bytes.toString('base64') };
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Does `topic` belong to `client`? The broker would refuse it otherwise, so a recording must not hold it. */
function ownsTopic(client: string, kind: ClientKind, topic: string): boolean {
  return kind === 'bridge' ? topic.startsWith(`${bridgeBase(client)}/`) : topic.startsWith(`${TOPIC_ROOT}/devices/${client}/`);
}

/**
 * What the broker publishes for a stream of actions, as a recording holds it (the reader's mirror image):
 * a connect, or a client's first publish, is its retained `online`; a drop (the will) or a disconnect its
 * retained `offline`. Called in stream order, so the lines are in time order.
 */
export function recordActions(sink: PlaySink): (client: string, kind: ClientKind, action: Action) => void {
  const connected = new Set<string>();
  return (client, kind, a) => {
    const status = (payload: string): void => {
      sink.write({ at: a.at, client, kind, topic: statusTopic(client, kind), qos: 1, retain: true, payload: Buffer.from(payload) });
    };
    if ((a.op === 'connect' || a.op === 'publish') && !connected.has(client)) {
      status('online');
      connected.add(client);
    }
    if (a.op === 'publish') sink.write({ at: a.at, client, kind, topic: a.topic, qos: a.qos, retain: a.retain, payload: a.payload });
    if ((a.op === 'drop' || a.op === 'disconnect') && connected.delete(client)) status('offline');
  };
}

export interface RecordingWriter extends PlaySink {
  /** Lines written so far. */
  lines(): number;
  /** Writes the header (clients seen) and the lines, leaving out clients in `exclude` (e.g. refused ones). */
  close(opts?: { exclude?: ReadonlySet<string> }): Promise<{ lines: number; clients: number }>;
  /** Stops and removes what was written. */
  abort(): Promise<void>;
}

/**
 * A streaming writer. The header lists the clients, which are known only at the end, so the lines go to a
 * side file first and `close()` writes header + lines to `path` (renamed into place: no half recordings).
 */
export function createRecordingWriter(path: string, meta: { start: number; source: string; timeZone?: string }): RecordingWriter {
  const bodyPath = `${path}.${process.pid}.lines.part`;
  const body: WriteStream = createWriteStream(bodyPath, { mode: 0o600 });
  const clients = new Map<string, ClientKind>();
  let lines = 0;
  let lastT = 0;
  let failure: Error | undefined;
  body.on('error', (err) => (failure ??= err));
  const end = (s: WriteStream): Promise<void> => new Promise((resolve) => s.end(resolve));

  return {
    write(m: PlayedMessage) {
      const t = Math.round(m.at - meta.start);
      if (t < 0) throw new RangeError(`a message at ${new Date(m.at).toISOString()} is before the recording's start`);
      if (!clients.has(m.client)) clients.set(m.client, m.kind);
      // The order of lines is the order the broker saw; a clock that stepped back must not reorder them.
      lastT = Math.max(lastT, t);
      const line = { t: lastT, client: m.client, topic: m.topic, qos: m.qos, retain: m.retain, ...payloadField(m.payload) };
      body.write(`${JSON.stringify(line)}\n`);
      lines += 1;
    },
    lines: () => lines,
    async close(opts = {}) {
      await end(body);
      if (failure) throw failure;
      const exclude = opts.exclude ?? new Set<string>();
      const header: RecordingHeader = {
        format: RECORDING_FORMAT,
        version: 1,
        timeZone: meta.timeZone ?? 'Europe/Oslo',
        start: new Date(meta.start).toISOString(),
        source: meta.source,
        clients: [...clients].filter(([id]) => !exclude.has(id)).map(([id, kind]) => ({ id, kind })),
      };
      const tmp = `${path}.${process.pid}.part`;
      const out = createWriteStream(tmp, { mode: 0o600 });
      out.write(`${JSON.stringify(header)}\n`);
      let kept = 0;
      for await (const text of createInterface({ input: createReadStream(bodyPath), crlfDelay: Infinity })) {
        if (exclude.size > 0 && exclude.has((JSON.parse(text) as RecordingLine).client)) continue;
        if (!out.write(`${text}\n`)) await once(out, 'drain');
        kept += 1;
      }
      await end(out);
      await rename(tmp, path);
      await unlink(bodyPath);
      return { lines: kept, clients: header.clients.length };
    },
    async abort() {
      await end(body);
      await unlink(bodyPath).catch(() => undefined);
    },
  };
}

export interface OpenRecording {
  /** The header, retargeted. */
  readonly header: RecordingHeader;
  readonly start: number;
  /** The actions, once (a stream); a bad line throws RecordingError. */
  actions(): AsyncIterable<Action>;
  close(): void;
}

/**
 * Rewrites client ids: `{ "sim-h003-lock-1": "d-0412" }` makes the lines of sim-h003-lock-1 play as d-0412,
 * on d-0412's topics (device and bridge topics alike). For replaying one home's recording against other
 * devices; a bridge's children keep their friendly names, so the new bridge must have the same children.
 */
export type Retarget = Readonly<Record<string, string>>;

export async function openRecording(file: string, opts: { retarget?: Retarget } = {}): Promise<OpenRecording> {
  const input = createReadStream(file);
  const rl = createInterface({ input, crlfDelay: Infinity });
  const it = rl[Symbol.asyncIterator]();
  let lineNo = 1;
  const fail = (reason: string): never => {
    rl.close();
    input.destroy();
    throw new RecordingError(file, lineNo, reason);
  };
  const first = await it.next().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
  if (first.done === true) fail('empty file: expected a tryggheim-recording header');
  const header = RecordingHeaderSchema.safeParse(parseJson(first.value as string, fail));
  if (!header.success) fail(`bad header: ${describeIssues(header.error)}`);
  const original = header.data as RecordingHeader;
  const retarget = checkRetarget(original, opts.retarget ?? {}, fail);
  const mapped: RecordingHeader = { ...original, clients: original.clients.map((c) => ({ ...c, id: retarget(c.id) })) };
  const kinds = new Map(original.clients.map((c) => [c.id, c.kind]));
  const start = Date.parse(original.start);

  async function* actions(): AsyncGenerator<Action> {
    const connected = new Set<string>();
    let lastT = 0;
    try {
      for (let next = await it.next(); next.done !== true; next = await it.next()) {
        lineNo += 1;
        const text = next.value;
        if (text.trim() === '') continue;
        const parsed = RecordingLineSchema.safeParse(parseJson(text, fail));
        if (!parsed.success) return fail(describeIssues(parsed.error));
        const l = parsed.data;
        const kind = kinds.get(l.client);
        if (kind === undefined) return fail(`client ${l.client} is not in the header's clients`);
        if (!ownsTopic(l.client, kind, l.topic)) return fail(`topic ${l.topic} is not one of ${kind} ${l.client}'s topics`);
        if (l.t < lastT) return fail(`t ${l.t} goes back in time (previous line had ${lastT})`);
        lastT = l.t;
        const client = retarget(l.client);
        const at = start + l.t;
        const payload = l.payload !== undefined ? Buffer.from(l.payload, 'utf8') : Buffer.from(l.payloadBase64 ?? '', 'base64');
        const topic = retargetTopic(l.topic, l.client, client, kind);
        if (topic === statusTopic(client, kind) && (l.payload === 'online' || l.payload === 'offline')) {
          // The player publishes these itself on connect, and the broker publishes the will on a drop.
          if (l.payload === 'online') {
            // Already connected: a new session whose `offline` the recording lacks (the broker can drop a
            // retained message on its way to an observer, see recorder.ts), so the old one ends as it must have.
            if (connected.has(client)) yield { at, client, op: 'drop' };
            connected.add(client);
            yield { at, client, op: 'connect' };
            continue;
          }
          // `offline`: the will of a connection older than the recording still needs that connection.
          if (!connected.has(client)) yield { at, client, op: 'connect' };
          connected.delete(client);
          yield { at, client, op: 'drop' };
          continue;
        }
        connected.add(client);
        yield { at, client, op: 'publish', topic, payload, qos: l.qos, retain: l.retain };
      }
    } catch (err) {
      if (err instanceof RecordingError) throw err;
      fail(`cannot read: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      rl.close();
      input.destroy();
    }
  }

  return {
    header: mapped,
    start,
    actions,
    close() {
      rl.close();
      input.destroy();
    },
  };
}

function parseJson(text: string, fail: (reason: string) => never): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkRetarget(header: RecordingHeader, map: Retarget, fail: (reason: string) => never): (id: string) => string {
  const ids = new Set(header.clients.map((c) => c.id));
  const targets = new Map<string, string>();
  for (const [from, to] of Object.entries(map)) {
    if (!ids.has(from)) fail(`retarget: client ${from} is not in this recording`);
    if (!ClientIdSchema.safeParse(to).success) fail(`retarget: ${JSON.stringify(to)} is not a valid client id`);
    const clash = targets.get(to);
    if (clash !== undefined) fail(`retarget: ${clash} and ${from} both map to ${to}`);
    targets.set(to, from);
  }
  // An unmapped client keeping its id must not collide with a mapped one either.
  for (const id of ids) {
    const other = targets.get(id);
    if (map[id] === undefined && other !== undefined) fail(`retarget: ${other} maps to ${id}, which is also a client of this recording`);
  }
  return (id) => map[id] ?? id;
}

function retargetTopic(topic: string, from: string, to: string, kind: ClientKind): string {
  if (from === to) return topic;
  const oldBase = kind === 'bridge' ? `${bridgeBase(from)}/` : `${TOPIC_ROOT}/devices/${from}/`;
  const newBase = kind === 'bridge' ? `${bridgeBase(to)}/` : `${TOPIC_ROOT}/devices/${to}/`;
  return newBase + topic.slice(oldBase.length);
}

/** Lines after the header (for a progress bar's total), counted without parsing. */
export async function countRecordingLines(file: string): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n += 1;
    last = chunk[chunk.length - 1] ?? last;
  }
  return Math.max(0, n - 1 + (last === 10 ? 0 : 1));
}
