import mqtt, { type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { generatePassword, type ScryptParams } from '../../gateway/auth/password.js';
import { createUserStore } from '../../gateway/auth/users.js';
import type { Role } from '../../gateway/auth/model.js';
import { loadConfig } from '../../gateway/config/load.js';
import type { DeviceKind } from '../../gateway/devices/ids.js';
import { createLogger } from '../../gateway/log.js';
import type { Gateway } from '../../gateway/main.js';
import { createInfluxWriter } from '../../gateway/storage/influx.js';
import { removeDir, startTestGateway } from '../support/gateway.js';
import { startInfluxd, type TestInfluxd } from '../support/influxd.js';
import type { Browsing } from './browser.js';

// The real thing for the dashboard's browser tests (browser.gateway, browser.phone, browser.views): a gateway in
// this process on the system clock (aedes on a free port, SQLite in a temp dir, the built dashboard from dist/),
// Debian's influxd 1.6.7 as its storage, homes and devices in the registry, users made through
// gateway/auth/users.ts, and devices that are real MQTT clients (mqtt.js) with their registry secrets. The
// browser side (Chromium, pages, login, checks) is in browser.ts.

export const TIME_ZONE = 'Europe/Oslo';
/** Cheap hashes for test users (about 1 ms each on a shared CPU); the login path verifies them like any other. */
const TEST_SCRYPT: ScryptParams = { ln: 10, r: 8, p: 1 };

export interface RealGateway {
  readonly gw: Gateway & { dataDir: string; mqttPort: number };
  readonly influxd: TestInfluxd;
  /** http://127.0.0.1:<port> — loopback, so Chromium keeps the Secure session cookie over plain http. */
  readonly base: string;
  readonly database: string;
  close(): Promise<void>;
}

export async function startRealGateway(): Promise<RealGateway> {
  const influxd = await startInfluxd();
  const database = 'tryggheim';
  const influx = { url: influxd.url, apiVersion: 'v1' as const, database, flushIntervalMs: 100 };
  const logger = createLogger({ level: 'silent' });
  try {
    const setup = await createInfluxWriter({ ...loadConfig({ env: {} }).influx, ...influx }, { logger });
    await setup.ensureDatabase();
    await setup.close();
    const gw = await startTestGateway({ influx });
    return {
      gw,
      influxd,
      base: `http://127.0.0.1:${gw.http.address.port}`,
      database,
      async close() {
        try {
          await gw.close();
        } finally {
          removeDir(gw.dataDir);
          await influxd.stop();
        }
      },
    };
  } catch (err) {
    await influxd.stop();
    throw err;
  }
}

export interface TestUser {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly password: string;
}

/** Adds dashboard users through the user store (as `tryggheim users add` does), each with a generated password. */
export async function addUsers(
  gw: Gateway,
  users: readonly { username: string; role: Role; teams: readonly string[]; displayName?: string }[],
): Promise<TestUser[]> {
  const store = createUserStore({ db: gw.db, now: () => Date.now(), passwordParams: TEST_SCRYPT });
  const out: TestUser[] = [];
  for (const u of users) {
    const password = generatePassword();
    const user = await store.add({ username: u.username, role: u.role, teams: [...u.teams], displayName: u.displayName }, password);
    out.push({ id: user.id, username: u.username, displayName: user.displayName, password });
  }
  return out;
}

export interface TestDevice {
  readonly id: string;
  readonly client: MqttClient;
  /** Publishes a native-format reading (QoS 1) and resolves with the epoch ms just before it went out. */
  publish(body: Record<string, unknown>): { sentAt: number; acked: Promise<unknown> };
}

/** Registers a device in a home and connects it over MQTT as itself (client id = username = device id). */
export async function connectDevice(
  gw: Gateway & { mqttPort: number },
  d: { id: string; kind: DeviceKind; homeId: string },
): Promise<TestDevice> {
  const { secret } = gw.registry.addDevice({ id: d.id, kind: d.kind, model: 'sim-test', adapterId: 'tryggheim', homeId: d.homeId });
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
    clientId: d.id,
    username: d.id,
    password: secret,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    will: { topic: `tryggheim/v1/devices/${d.id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  await within(5000, client.publishAsync(`tryggheim/v1/devices/${d.id}/status`, 'online', { qos: 1, retain: true }), `${d.id} status`);
  let seq = 0;
  return {
    id: d.id,
    client,
    publish(body) {
      const payload = JSON.stringify({ ...body, ts: new Date().toISOString(), seq: ++seq });
      const sentAt = Date.now();
      return { sentAt, acked: client.publishAsync(`tryggheim/v1/devices/${d.id}/up`, payload, { qos: 1 }) };
    },
  };
}

/** The promise, or a rejection naming `what` after `ms`. */
export function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** HH:MM in a time zone, `offsetMinutes` from now. */
export function localTime(offsetMinutes: number, timeZone = TIME_ZONE): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    new Date(Date.now() + offsetMinutes * 60_000),
  );
}

/** Counts the points of a device in an InfluxDB 1.x measurement (InfluxQL over /query). */
export async function countPoints(influxUrl: string, database: string, measurement: string, deviceId: string): Promise<number> {
  const q = `SELECT count(*) FROM "${measurement}" WHERE "device_id" = '${deviceId}'`;
  const res = await fetch(`${influxUrl}/query?db=${encodeURIComponent(database)}&q=${encodeURIComponent(q)}`, {
    signal: AbortSignal.timeout(2000),
  });
  const body = (await res.json()) as { results: { series?: { values: (string | number)[][] }[] }[] };
  const row = body.results[0]?.series?.[0]?.values[0] ?? [];
  return Math.max(0, ...row.slice(1).map((v) => (typeof v === 'number' ? v : 0)));
}

/**
 * Installed in every page before its scripts run: records when each alert element (`[data-alert-id]`, a card in
 * the list or a tile on the wall board) first appears, with the browser's epoch ms — the same machine clock the
 * test publishes with — so "publish → visible" is measured to the DOM change, not to the next poll of a wait.
 */
export const SEEN_SCRIPT = `(() => {
  const seen = (window.__seen = {});
  const note = (el) => {
    const id = el.getAttribute('data-alert-id');
    if (id && !(id in seen)) seen[id] = { at: Date.now(), text: el.textContent || '' };
  };
  const scan = (node) => {
    if (node.nodeType !== 1) return;
    if (node.hasAttribute('data-alert-id')) note(node);
    for (const el of node.querySelectorAll('[data-alert-id]')) note(el);
  };
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) scan(n);
  }).observe(document, { childList: true, subtree: true });
})()`;

export interface Seen {
  readonly id: string;
  readonly at: number;
  readonly text: string;
}

/** Every alert element this page has shown so far (see SEEN_SCRIPT). */
export async function seenAlerts(page: Page): Promise<Seen[]> {
  const seen = await page.evaluate<Record<string, { at: number; text: string }>>('window.__seen');
  return Object.entries(seen).map(([id, s]) => ({ id, ...s }));
}

/**
 * Waits (bounded) until the page has shown an alert element whose text has every part, and returns when it first
 * did. Polled with page.evaluate, not waitForFunction: a string predicate that has to be polled is evaluated in
 * the page with eval, which the gateway's CSP refuses (the wait failed whenever the alert was not there at once).
 * The poll's pace does not matter to what it measures: SEEN_SCRIPT noted the time when the element appeared.
 */
export async function waitSeen(page: Page, parts: readonly string[], timeoutMs: number): Promise<Seen> {
  const find = `(() => Object.entries(window.__seen).find(([, s]) => ${JSON.stringify(parts)}.every((p) => s.text.includes(p))) ?? null)()`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = await page.evaluate<[string, { at: number; text: string }] | null>(find);
    if (hit !== null) return { id: hit[0], ...hit[1] };
    if (Date.now() > deadline) throw new Error(`no alert showing ${parts.join(' + ')} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Publishes as `device` and resolves with the alert `page` first showed with every part of `parts`, and how long it took. */
export async function raiseSeen(
  page: Page,
  device: TestDevice,
  body: Record<string, unknown>,
  parts: readonly string[],
  timeoutMs: number,
): Promise<{ id: string; ms: number; sentAt: number }> {
  const { sentAt, acked } = device.publish(body);
  const seen = await waitSeen(page, parts, timeoutMs);
  await within(timeoutMs, acked, `PUBACK for ${device.id}`);
  return { id: seen.id, ms: seen.at - sentAt, sentAt };
}

/**
 * Ends what a browser test file started, each step bounded: the browser (its contexts, then Chromium), the device
 * clients, then the gateway (in this process) and influxd (our child, stopped by its PID). Any of them may be
 * missing when beforeAll failed early.
 */
export async function closeAll(parts: {
  browsing: Browsing | undefined;
  devices: Iterable<TestDevice>;
  real: RealGateway | undefined;
}): Promise<void> {
  const bounded = (p: Promise<unknown>, ms: number) =>
    Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
  await parts.browsing?.close();
  await Promise.all([...parts.devices].map((d) => bounded(d.client.endAsync(true), 2000)));
  await parts.real?.close();
}
