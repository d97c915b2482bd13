import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import { createAlertStore, type AlertStore } from '../../../gateway/alerts/store.js';
import { openDatabase, type Database } from '../../../gateway/db/sqlite.js';
import { createOutboxNotifier, type OutboxNotifier } from '../../../gateway/delivery/channel.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';

// Delivery-channel tests: a real SQLite alert store (two synthetic homes in two teams, as in
// test/gateway/alerts/fixture.ts), the real notifier, a recording logger, and a real HTTP receiver on loopback that
// behaves like a well-written home service: it checks the signature, stores each Idempotency-Key once, and can be
// told to fail, hang, or store and then hang.

export const T0 = Date.parse('2026-03-10T08:00:00.000Z');
export const MIN = 60_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export interface StoreSetup {
  /** The database file, for a second connection (a restart). */
  path: string;
  db: Database;
  store: AlertStore;
  notifier: OutboxNotifier;
  signal: (over?: Partial<AlertSignal>) => AlertSignal;
  /** Applies and notifies, as the gateway does after every write. */
  apply: (signal: AlertSignal) => void;
  close: () => void;
}

/** A new database in a temp dir with two homes; `path` lets a test open a second connection (a restart). */
export function setupStore(now: () => number): StoreSetup {
  const dir = mkdtempSync(join(tmpdir(), 'tryggheim-delivery-'));
  const path = join(dir, 'tryggheim.sqlite');
  const db = openDatabase(path);
  const registry = createDeviceRegistry({ db, now: () => new Date(now()) });
  registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  registry.addHome({ id: 'home-0002', teamId: 'team-south' });
  let n = 0;
  const store = createAlertStore({ db, now, newId: () => `al-${String(++n).padStart(4, '0')}` });
  const notifier = createOutboxNotifier();
  const signal = (over: Partial<AlertSignal> = {}): AlertSignal => ({
    action: 'raise',
    rule: 'fall',
    homeId: 'home-0001',
    subject: 'sensor-0001',
    severity: 'critical',
    kind: 'care',
    title: 'Fall detected',
    at: now(),
    evidence: [],
    ...over,
  });
  return {
    path,
    db,
    store,
    notifier,
    signal,
    apply: (s) => {
      store.apply(s);
      notifier.notify();
    },
    close: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

export function recordingLogger() {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg: string) => {
    lines.push({ level, obj, msg });
  };
  return {
    lines,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    /** Everything logged, serialised, for "never logged" checks. */
    text: () => JSON.stringify(lines, (_k, v: unknown) => (v instanceof Error ? { message: v.message, cause: String(v.cause) } : v)),
  };
}

/** What the receiver does with the next requests; tests switch it while the channel runs. */
export type Behaviour = 'ok' | 'hang' | 'store-then-hang' | { status: number } | { gate: Promise<void> };

export interface Seen {
  key: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
  signatureOk: boolean;
  behaviour: string;
}

export interface Stored {
  key: string;
  body: unknown;
}

export interface Receiver {
  url: string;
  behaviour: Behaviour;
  /** Every request, retries included. */
  seen: Seen[];
  /** What the home service stored: each Idempotency-Key once, in arrival order. */
  stored: Stored[];
  /** How many 2xx answers each key got. */
  accepted: Map<string, number>;
  close(): Promise<void>;
}

/** Independent of gateway/delivery/webhook-sign.ts on purpose: the receiver's side as a home service writes it. */
export function verify(secret: string, header: string | undefined, body: string, nowSeconds: number): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m?.[1] || !m[2]) return false;
  if (Math.abs(nowSeconds - Number(m[1])) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const r: Receiver = {
    url: '',
    behaviour: 'ok',
    seen: [],
    stored: [],
    accepted: new Map(),
    close: () => Promise.resolve(),
  };
  const storeOnce = (key: string, body: string): void => {
    if (r.stored.some((s) => s.key === key)) return;
    r.stored.push({ key, body: JSON.parse(body) as unknown });
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const key = req.headers['idempotency-key'];
    const header = req.headers['x-tryggheim-signature'];
    const signatureOk = verify(secret, typeof header === 'string' ? header : undefined, body, Math.floor(Date.now() / 1000));
    const b = r.behaviour;
    r.seen.push({ key: typeof key === 'string' ? key : undefined, headers: req.headers, body, signatureOk, behaviour: JSON.stringify(b) });
    if (!signatureOk || typeof key !== 'string') {
      res.writeHead(401).end();
      return;
    }
    if (b === 'hang') return;
    if (b === 'store-then-hang') {
      storeOnce(key, body);
      return;
    }
    if (typeof b === 'object' && 'status' in b) {
      res.writeHead(b.status).end('{"error":"synthetic"}');
      return;
    }
    if (typeof b === 'object') await b.gate;
    storeOnce(key, body);
    r.accepted.set(key, (r.accepted.get(key) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  r.url = `http://127.0.0.1:${port}/hooks/tryggheim`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Hanging requests are never answered: cut them.
      server.closeAllConnections();
    });
  return r;
}
