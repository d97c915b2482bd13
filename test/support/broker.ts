import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  devicePolicy,
  silentLogger,
  startBroker,
  type AccessPolicy,
  type AuthResult,
  type Authenticator,
  type BrokerDeps,
  type BrokerHandle,
  type BrokerOptions,
} from '../../broker/index.js';

/** Broker options for tests: loopback, port 0 everywhere, production limits unless overridden. */
export function testBrokerOptions(overrides: Partial<BrokerOptions> = {}): BrokerOptions {
  return {
    host: '127.0.0.1',
    tcp: { enabled: true, port: 0 },
    tls: { port: 0 },
    ws: { enabled: false, port: 0, path: '/mqtt' },
    limits: {
      maxConnectBytes: 16 * 1024,
      maxPacketBytes: 256 * 1024,
      maxUnauthenticated: 2000,
      connectRatePerSec: 100_000,
      connectTimeoutMs: 10_000,
      keepaliveMaxSec: 1800,
      drainTimeoutMs: 10_000,
      maxQueuedPerClient: 1000,
      maxFiltersPerSubscribe: 8,
      maxTopicLevels: 10,
      maxClientIdLength: 64,
      listenBacklog: 511,
      ...overrides.limits,
    },
    lockout: { maxFailures: 5, windowSec: 60, lockSec: 900, ...overrides.lockout },
    persistence: overrides.persistence ?? 'memory',
    ...(overrides.tcp ? { tcp: overrides.tcp } : {}),
    ...(overrides.tls ? { tls: overrides.tls } : {}),
    ...(overrides.ws ? { ws: overrides.ws } : {}),
  };
}

/**
 * A credential table standing in for the device registry in broker-only tests (the broker's contract is
 * the Authenticator function; the gateway tests run the same flows against the real SQLite registry).
 */
export function tableAuthenticator(
  table: Record<string, { secret: string; kind?: 'device' | 'bridge' | 'observer'; disabled?: boolean }>,
): Authenticator {
  return (id, secret): AuthResult => {
    const row = table[id];
    if (row === undefined) return { ok: false, reason: 'unknown_device' };
    if (secret.toString('utf8') !== row.secret) return { ok: false, reason: 'bad_secret' };
    if (row.disabled === true) return { ok: false, reason: 'disabled' };
    return { ok: true, principal: { kind: row.kind ?? 'device', id } };
  };
}

export interface TestBroker {
  handle: BrokerHandle;
  url: string;
  port: number;
  dataDir: string;
  restart(): Promise<TestBroker>;
  stop(): Promise<void>;
}

export async function startTestBroker(
  opts: {
    options?: Partial<BrokerOptions>;
    policy?: AccessPolicy;
    authenticator?: Authenticator;
    deps?: Partial<BrokerDeps>;
    dataDir?: string;
  } = {},
): Promise<TestBroker> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tryggheim-broker-'));
  const ownsDir = opts.dataDir === undefined;
  const options = testBrokerOptions(opts.options);
  const policy = opts.policy ?? devicePolicy(opts.authenticator ?? (() => ({ ok: false, reason: 'unknown_device' })));
  const handle = await startBroker(options, { policy, logger: silentLogger, dataDir, ...opts.deps });
  const port = handle.address('tcp')?.port ?? 0;
  const self: TestBroker = {
    handle,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dataDir,
    async restart() {
      await handle.close();
      // Same data directory and same port, like a gateway process coming back.
      return startTestBroker({ ...opts, dataDir, options: { ...opts.options, tcp: { enabled: true, port } } });
    },
    async stop() {
      await handle.close();
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return self;
}
