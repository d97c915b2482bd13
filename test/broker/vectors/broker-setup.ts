// Starts a real Tryggheim broker (in this process) for the protocol-robustness tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { devicePolicy, openTestPolicy, silentLogger, startBroker } from '../../../broker/index.js';
import type { AccessPolicy, BrokerHandle, BrokerOptions } from '../../../broker/types.js';

export type PolicyName = 'production' | 'open-test';

export function testBrokerOptions(overrides: { maxFailures?: number } = {}): BrokerOptions {
  return {
    host: '127.0.0.1',
    tcp: { enabled: true, port: 0 },
    tls: { port: 0 }, // no cert files: TLS listener off
    ws: { enabled: false, port: 0, path: '/mqtt' },
    persistence: 'memory',
    limits: {
      maxConnectBytes: 16384,
      maxPacketBytes: 262144,
      maxUnauthenticated: 2000,
      // The vectors open hundreds of sockets within seconds; the production default would refuse them.
      connectRatePerSec: 100_000,
      connectTimeoutMs: 2000,
      keepaliveMaxSec: 1800,
      drainTimeoutMs: 10_000,
      maxQueuedPerClient: 1000,
      maxFiltersPerSubscribe: 8,
      maxTopicLevels: 10,
      maxClientIdLength: 64,
      listenBacklog: 511,
    },
    lockout: { maxFailures: overrides.maxFailures ?? 5, windowSec: 60, lockSec: 900 },
  };
}

/** The production policy with an empty device registry: every CONNECT is refused (the posture the vectors meet). */
export function productionPolicy(): AccessPolicy {
  return devicePolicy(() => ({ ok: false, reason: 'unknown_device' }));
}

export interface TestBroker {
  handle: BrokerHandle;
  port: number;
  close(): Promise<void>;
}

export async function startTestBroker(policy: PolicyName, overrides: { maxFailures?: number } = {}): Promise<TestBroker> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tryggheim-vectors-'));
  try {
    const handle = await startBroker(testBrokerOptions(overrides), {
      policy: policy === 'production' ? productionPolicy() : openTestPolicy(),
      logger: silentLogger,
      dataDir,
    });
    const port = handle.address('tcp')?.port;
    if (port === undefined) {
      await handle.close();
      throw new Error('broker has no tcp address');
    }
    return {
      handle,
      port,
      async close() {
        try {
          await handle.close();
        } finally {
          rmSync(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
