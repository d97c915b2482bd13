import { z } from 'zod';
import { RouteSchema } from '../delivery/channel.js';
import { WebhookConfigSchema } from '../delivery/webhook.js';
import { TeamIdSchema } from '../devices/ids.js';

// One schema for the whole gateway. Defaults are the production defaults; tests override ports with 0.
// `prefault({})` runs an absent section through its own defaults (zod 4: `.default()` would skip parsing).

const Port = z.number().int().min(0).max(65535);
const Host = z.string().min(1);

const TcpListenerSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    port: Port.default(1883),
  })
  .prefault({});

const TlsListenerSchema = z
  .strictObject({
    port: Port.default(8883),
    /** PEM certificate chain. The TLS listener starts when both certFile and keyFile are set. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** Optional CA bundle for client certificates (not required: devices authenticate with their secret). */
    caFile: z.string().min(1).optional(),
  })
  .prefault({});

const WsListenerSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    port: Port.default(8083),
    path: z.string().startsWith('/').default('/mqtt'),
  })
  .prefault({});

const LimitsSchema = z
  .strictObject({
    /** Largest packet a socket may declare before it has authenticated (the CONNECT). */
    maxConnectBytes: z
      .number()
      .int()
      .min(128)
      .max(1024 * 1024)
      .default(16 * 1024),
    /** Largest packet an authenticated client may declare (a PUBLISH). */
    maxPacketBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(256 * 1024),
    /** Sockets that have not completed CONNECT yet, over all listeners. */
    maxUnauthenticated: z.number().int().min(1).default(2000),
    /** New connections accepted per second (token bucket; burst = one second's worth). */
    connectRatePerSec: z.number().int().min(1).default(2000),
    /** Time a socket has to send a CONNECT and be answered. */
    connectTimeoutMs: z.number().int().min(100).default(10_000),
    /** Largest keepalive a client may ask for; 0 ("never") is refused. */
    keepaliveMaxSec: z.number().int().min(1).max(65535).default(1800),
    /** A client that does not drain its socket in this time is disconnected. */
    drainTimeoutMs: z.number().int().min(10_000).max(60_000).default(30_000),
    /** Messages waiting for one client (in flight + offline queue) before further ones are dropped and counted. */
    maxQueuedPerClient: z.number().int().min(1).default(1000),
    /** Filters in one SUBSCRIBE; a device needs one or two. */
    maxFiltersPerSubscribe: z.number().int().min(1).max(1000).default(8),
    maxTopicLevels: z.number().int().min(3).max(100).default(10),
    maxClientIdLength: z.number().int().min(1).max(256).default(64),
    /** TCP accept queue per listener; a reconnect storm overflows Node's default of 511 (capped by net.core.somaxconn). */
    listenBacklog: z.number().int().min(16).max(65535).default(4096),
  })
  .prefault({});

const LockoutSchema = z
  .strictObject({
    maxFailures: z.number().int().min(1).default(5),
    windowSec: z.number().int().min(1).default(60),
    lockSec: z
      .number()
      .int()
      .min(1)
      .default(15 * 60),
  })
  .prefault({});

export const BrokerConfigSchema = z
  .strictObject({
    host: Host.default('0.0.0.0'),
    tcp: TcpListenerSchema,
    tls: TlsListenerSchema,
    ws: WsListenerSchema,
    limits: LimitsSchema,
    lockout: LockoutSchema,
    /** `level`: sessions and retained messages on disk under dataDir/mqtt-sessions; `memory`: lost on restart (tests only). */
    persistence: z.enum(['level', 'memory']).default('level'),
  })
  .prefault({});

/** Dashboard logins (issue 6, gateway/auth): session timeouts, lockout, the login rate limit, the cookie. */
export const HttpAuthConfigSchema = z
  .strictObject({
    /** A session ends this long after the last request that used it. */
    idleMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(30),
    /** … and this long after login, however active (a shift, then log in again). */
    absoluteHours: z
      .number()
      .int()
      .min(1)
      .max(7 * 24)
      .default(12),
    /**
     * A wall-board session (the team room's screen, logged in with "wall board" ticked) lasts this long; it has
     * no idle timeout and may only read the open alerts. Then someone logs the board in again.
     */
    boardHours: z
      .number()
      .int()
      .min(1)
      .max(31 * 24)
      .default(7 * 24),
    lockout: z
      .strictObject({
        /** Failed logins in a row for one username before it is locked. */
        maxFailures: z.number().int().min(1).max(100).default(5),
        lockMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(15),
      })
      .prefault({}),
    /** Login attempts per client address per window (the rest get 429). */
    loginRateLimit: z
      .strictObject({
        max: z.number().int().min(1).default(20),
        windowSec: z.number().int().min(1).default(60),
      })
      .prefault({}),
    /**
     * The session cookie's Secure attribute. Keep it on: browsers accept Secure cookies from http://localhost and
     * http://127.0.0.1 (secure contexts) and over https; anything else needs TLS (a reverse proxy) anyway.
     */
    secureCookie: z.boolean().default(true),
  })
  .refine((a) => a.idleMinutes <= a.absoluteHours * 60, { error: 'idleMinutes must not exceed absoluteHours', path: ['idleMinutes'] })
  .prefault({});
export type HttpAuthConfig = z.infer<typeof HttpAuthConfigSchema>;

export const HttpConfigSchema = z
  .strictObject({
    host: Host.default('127.0.0.1'),
    port: Port.default(8080),
    /** Reverse proxies (comma-separated addresses or CIDRs) whose X-Forwarded-For/-Host/-Proto are believed. */
    trustProxy: z.string().default(''),
    auth: HttpAuthConfigSchema,
  })
  .prefault({});

export const InfluxConfigSchema = z
  .strictObject({
    /** Base URL, e.g. http://127.0.0.1:8086. Unset: no storage — messages stay in the journal (demo starts a local influxd). */
    url: z.url().optional(),
    /** `v2` = /api/v2/write with a token (InfluxDB 2.x, 3.x, 1.8+); `v1` = /write (1.x before 1.8); `auto` asks /ping. */
    apiVersion: z.enum(['auto', 'v1', 'v2']).default('auto'),
    token: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** v1 database (and, through DBRP mapping, the v2/v3 bucket for InfluxQL reads). */
    database: z.string().min(1).default('tryggheim'),
    retentionPolicy: z.string().min(1).optional(),
    /** v2 organisation and bucket. */
    org: z.string().min(1).optional(),
    bucket: z.string().min(1).default('tryggheim'),
    /** Lines per write request. */
    batchSize: z.number().int().min(1).max(100_000).default(5000),
    /** Longest a line waits before it is sent. */
    flushIntervalMs: z.number().int().min(10).max(1000).default(1000),
    /** Write requests in flight at once. */
    maxInFlight: z.number().int().min(1).max(16).default(2),
    timeoutMs: z.number().int().min(100).default(10_000),
  })
  .prefault({});

export const IngestConfigSchema = z
  .strictObject({
    /** Larger payloads are dead-lettered as `oversized` (the broker's packet cap is the hard limit). */
    maxPayloadBytes: z
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
    /** The journal (outage buffer) cap; past it the oldest telemetry is dropped, never doses, doors or alarms. */
    journalMaxBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .default(1024 * 1024 * 1024),
    /** Fill level that raises a gateway-health warning. */
    journalWarnRatio: z.number().min(0.1).max(0.99).default(0.8),
  })
  .prefault({});

const Minutes = z
  .number()
  .int()
  .min(1)
  .max(7 * 24 * 60);
const perSeverity = <T extends z.ZodType>(value: T) =>
  z.strictObject({ critical: value.optional(), high: value.optional(), medium: value.optional(), low: value.optional() }).prefault({});

/** Alerts (issue 5): the escalation policy (defaults in gateway/alerts/escalation.ts) and delivery channels. */
export const AlertsConfigSchema = z
  .strictObject({
    escalation: z
      .strictObject({
        /** From raise to escalation to the next level, per severity (defaults 5/15/60/1440). */
        ackMinutes: perSeverity(Minutes),
        /** From raise to "followed up late" (defaults 30/120/480/4320). */
        followUpMinutes: perSeverity(Minutes),
        /** Reminders while unacknowledged; 0 switches them off for that severity (defaults 2/5/20/360). */
        reminderMinutes: perSeverity(
          z
            .number()
            .int()
            .min(0)
            .max(7 * 24 * 60),
        ),
        /** Escalation levels, first = the home's team (default team → team_lead → response_centre). */
        chain: z.array(z.string()).min(1).optional(),
        /** Where gateway-health alerts and alerts of homes unknown to the registry go. */
        opsTeamId: TeamIdSchema.default('ops'),
      })
      .prefault({}),
    /** InfluxDB unreachable this long raises a gateway-health alert. */
    influxDownMinutes: Minutes.default(5),
    /** Alerts on `tryggheim/v1/alerts/{teamId}/…` for service accounts (gateway/delivery/mqtt.ts). */
    mqtt: z.strictObject({ enabled: z.boolean().default(true), route: RouteSchema.prefault({}) }).prefault({}),
    /**
     * Outbox rows (one per transition, what the channels deliver and live streams resume from) older than this and
     * delivered by every configured channel are deleted, hourly; rows a channel still has pending are kept.
     */
    outboxRetentionDays: z.number().int().min(1).max(3650).default(30),
    /** Signed JSON POSTs to home-service systems (gateway/delivery/webhook.ts); set them in the config file. */
    webhooks: z
      .array(WebhookConfigSchema)
      .default([])
      .refine((w) => new Set(w.map((x) => x.id)).size === w.length, { error: 'webhook ids must be unique' }),
  })
  .prefault({});

export const ConfigSchema = z.strictObject({
  /** Where SQLite, MQTT sessions and (later) the journal live. Relative paths are relative to the working directory. */
  dataDir: z.string().min(1).default('./data'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  broker: BrokerConfigSchema,
  http: HttpConfigSchema,
  influx: InfluxConfigSchema,
  ingest: IngestConfigSchema,
  alerts: AlertsConfigSchema,
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.infer<typeof ConfigSchema>;
export type BrokerConfig = Config['broker'];
