import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse, RouteOptions } from 'fastify';
import { expect } from 'vitest';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import { createAlertStore, type AlertStore } from '../../../gateway/alerts/store.js';
import { createAuditLog, type AuditLog } from '../../../gateway/auth/audit.js';
import type { ScryptParams } from '../../../gateway/auth/password.js';
import { createUserStore, type UserStore } from '../../../gateway/auth/users.js';
import { ADAPTERS } from '../../../adapters/registry.js';
import { createDoseAlertLookup } from '../../../gateway/care/dose-log.js';
import { createCareStore, type CareStore } from '../../../gateway/care/store.js';
import { HttpAuthConfigSchema } from '../../../gateway/config/schema.js';
import { databasePath, openDatabase, type Database } from '../../../gateway/db/sqlite.js';
import { createOutboxNotifier } from '../../../gateway/delivery/channel.js';
import { createSseHub, type SseHub } from '../../../gateway/delivery/sse.js';
import { createHealthIndex, type HealthIndex } from '../../../gateway/devices/health.js';
import { createDeviceRegistry, type DeviceRegistry } from '../../../gateway/devices/registry.js';
import { createDeadLetters, type DeadLetters } from '../../../gateway/ingest/dead-letters.js';
import { openJournal, type Journal } from '../../../gateway/ingest/journal.js';
import type { HomeQuery } from '../../../gateway/storage/home-query.js';
import { buildApp, type HttpApp } from '../../../gateway/http/app.js';
import { ErrorBodySchema } from '../../../gateway/http/errors.js';
import type { Logger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';

// The HTTP API with logins, as the gateway builds it, on a real SQLite file in a temp dir and a fake clock the
// test moves. Two teams (team-a with home-a1 and home-a2, team-b with home-b1), a dispenser in home-a1 and in
// home-b1, a sensor in home-a1, a device in stock; one user per role (pseudonymous usernames); a cheap scrypt
// cost so that logging in does not take half a second of a shared CPU (the production cost is tested in
// password.test.ts). The journal (for dead letters) is a real one in the same temp dir. InfluxDB is not
// configured unless a test passes `influx` (a real influxd's reads, or a stand-in named as such).

export const T0 = Date.parse('2026-03-10T08:00:00.000Z');
export const MIN = 60_000;
export const PASSWORD = 'correct horse battery staple';
/** Tests only: about 1 ms per hash. */
export const CHEAP_SCRYPT: ScryptParams = { ln: 10, r: 8, p: 1 };

export const USERS = {
  'nurse-a1': { role: 'nurse', teams: ['team-a'] },
  'nurse-b1': { role: 'nurse', teams: ['team-b'] },
  'lead-a1': { role: 'team_lead', teams: ['team-a'] },
  'tech-a1': { role: 'technician', teams: ['team-a'] },
  'admin-1': { role: 'admin', teams: [] },
} as const;
export type Username = keyof typeof USERS;

export interface Fixture {
  readonly app: HttpApp;
  readonly db: Database;
  readonly clock: { now: number };
  readonly users: UserStore;
  readonly audit: AuditLog;
  readonly alerts: AlertStore;
  readonly hub: SseHub;
  readonly notify: () => void;
  readonly registry: DeviceRegistry;
  readonly health: HealthIndex;
  readonly care: CareStore;
  readonly journal: Journal;
  readonly deadLetters: DeadLetters;
  /** Stores a dead letter for the device, received now; returns its id. */
  deadLetter(deviceId: string, payload?: Buffer | string, reason?: string): Promise<number>;
  /** Raises an alert for a home (home-a1 is team-a's, home-b1 team-b's) and returns its id. */
  raise(homeId: 'home-a1' | 'home-b1', over?: Partial<AlertSignal>): string;
  close(): Promise<void>;
}

export async function authFixture(
  opts: {
    auth?: Record<string, unknown>;
    logger?: Logger;
    users?: boolean;
    recheckMs?: number;
    /** Sees every route as fastify adds it (the route table), before the app is ready. */
    onRoute?: (route: RouteOptions) => void;
    /** InfluxDB reads for home pages and charts; default: not configured. */
    influx?: HomeQuery;
  } = {},
): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-auth-'));
  const db = openDatabase(databasePath(dataDir));
  const clock = { now: T0 };
  const now = (): number => clock.now;
  const registry = createDeviceRegistry({ db, now: () => new Date(clock.now) });
  registry.addHome({ id: 'home-a1', teamId: 'team-a' });
  registry.addHome({ id: 'home-b1', teamId: 'team-b' });
  registry.addHome({ id: 'home-a2', teamId: 'team-a' });
  registry.addDevice({ id: 'disp-a1', kind: 'dispenser', model: 'demo-dispenser', adapterId: 'tryggheim', homeId: 'home-a1' });
  registry.addDevice({ id: 'sens-a1', kind: 'sensor', model: 'demo-sensor', adapterId: 'tryggheim', homeId: 'home-a1' });
  registry.addDevice({ id: 'disp-b1', kind: 'dispenser', model: 'demo-dispenser', adapterId: 'tryggheim', homeId: 'home-b1' });
  registry.addDevice({ id: 'stock-1', kind: 'sensor', model: 'demo-sensor', adapterId: 'tryggheim' });
  const health = createHealthIndex();
  const care = createCareStore({ db, now: () => new Date(clock.now) });
  const journal = openJournal(dataDir, { now });
  const deadLetters = createDeadLetters(journal, now);
  const config = HttpAuthConfigSchema.parse(opts.auth ?? {});
  const users = createUserStore({ db, now, passwordParams: CHEAP_SCRYPT });
  if (opts.users !== false) {
    for (const [username, u] of Object.entries(USERS)) await users.add({ username, role: u.role, teams: [...u.teams] }, PASSWORD);
  }
  const alerts = createAlertStore({ db, now });
  const notifier = createOutboxNotifier();
  const hub = createSseHub(alerts, notifier, { warn: () => undefined, debug: () => undefined });
  let n = 0;
  const openAlerts = (teams: '*' | readonly string[]) =>
    teams === '*'
      ? alerts.list({ state: 'open', limit: 5000 })
      : teams.flatMap((teamId) => alerts.list({ state: 'open', teamId, limit: 5000 }));
  const homeData = { registry, health, openAlerts };
  const app = buildApp({
    logger: opts.logger ?? false,
    metrics: createMetrics({ brokerStats: () => undefined }),
    readiness: () => ({ broker: true, database: true }),
    auth: {
      db,
      now,
      config,
      passwordParams: CHEAP_SCRYPT,
      serviceAccount: (id, secret) => (id === 'svc-a' && secret.toString() === 'svc-a-secret' ? { teamId: 'team-a' } : undefined),
    },
    alerts: {
      hub,
      listOpen: (scope) =>
        scope.teams === '*' ? alerts.list({ state: 'open' }) : scope.teams.flatMap((teamId) => alerts.list({ state: 'open', teamId })),
      get: (id) => alerts.get(id),
      timeline: (id) => alerts.timeline(id),
      acknowledge: (id, input) => alerts.acknowledge(id, input),
      resolve: (id, input) => alerts.resolve(id, input),
      ...(opts.recheckMs === undefined ? {} : { recheckMs: opts.recheckMs }),
    },
    reports: { followUpReport: (q) => alerts.followUpReport(q) },
    homes: { ...homeData, care, doseAlerts: createDoseAlertLookup(db), influx: opts.influx, now },
    devices: homeData,
    deadLetters: { deadLetters, registry, adapters: ADAPTERS },
    telemetry: { registry, influx: opts.influx },
    care: { registry, care, transaction: (fn) => db.transaction(fn).immediate() },
    teams: { listHomes: () => registry.listHomes() },
  });
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  await app.ready();
  return {
    app,
    db,
    clock,
    users,
    audit: createAuditLog({ db, now }),
    alerts,
    hub,
    notify: () => notifier.notify(),
    registry,
    health,
    care,
    journal,
    deadLetters,
    async deadLetter(deviceId, payload = '{"type":"dose.taken","x":', reason = 'malformed') {
      const seq = await journal.append({
        receivedAt: clock.now,
        principalKind: 'device',
        principalId: deviceId,
        subtopic: 'up',
        qos: 1,
        payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
      });
      const entry = journal.get(seq);
      if (entry === undefined) throw new Error('journal entry vanished');
      journal.deadLetter([
        { entry, dl: { reason, issues: [{ path: [], code: reason, message: 'not JSON' }], adapterId: 'tryggheim', adapterVersion: 1 } },
      ]);
      return deadLetters.list({ deviceId, includeReplayed: true, limit: 1 })[0]?.id ?? 0;
    },
    raise(homeId, over = {}) {
      n += 1;
      const [t] = alerts.apply({
        action: 'raise',
        rule: 'fall',
        homeId,
        subject: `sensor-${String(n).padStart(4, '0')}`,
        severity: 'critical',
        kind: 'care',
        title: 'Fall detected',
        at: clock.now,
        evidence: [{ deviceId: `sensor-${String(n).padStart(4, '0')}`, note: 'fall reported' }],
        ...over,
      });
      return t?.alertId ?? '';
    },
    async close() {
      await app.close();
      journal.close();
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface LoggedIn {
  /** `tg_sid=…`, for the cookie header. */
  readonly cookie: string;
  readonly sid: string;
  readonly csrf: string;
  readonly userId: string;
}

export function sessionCookieOf(res: LightMyRequestResponse): string | undefined {
  return res.cookies.find((c) => c.name === 'tg_sid')?.value;
}

export async function login(app: HttpApp, username: string, password = PASSWORD, cookie?: string): Promise<LoggedIn> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/session',
    payload: { username, password },
    ...(cookie === undefined ? {} : { headers: { cookie } }),
  });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ user: { id: string }; csrfToken: string }>();
  const sid = sessionCookieOf(res) ?? '';
  return { cookie: `tg_sid=${sid}`, sid, csrf: body.csrfToken, userId: body.user.id };
}

/** A refusal carries the error body and nothing else. */
export function expectErrorOnly(res: LightMyRequestResponse, status: number, code?: string): void {
  expect(res.statusCode, `${res.statusCode} ${res.body}`).toBe(status);
  if (res.body === '') return; // HEAD
  const body = ErrorBodySchema.strict().safeParse(res.json());
  expect(body.success, res.body).toBe(true);
  expect(Object.keys(res.json<{ error: object }>().error).sort()).toEqual(['code', 'message']);
  if (code !== undefined) expect(res.json<{ error: { code: string } }>().error.code).toBe(code);
}
