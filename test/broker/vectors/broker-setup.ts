// Starts a real Tryggheim broker (in this process) for the protocol-robustness tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { devicePolicy, openTestPolicy, silentLogger, startBroker } from '../../../broker/index.js';
import type { AccessPolicy, BrokerHandle, BrokerOptions } from '../../../broker/types.js';
import { testBrokerOptions } from '../../support/broker.js';

export type PolicyName = 'production' | 'open-test';

/** The shared test options (test/support/broker.ts), with the vectors' own rate, timeout and lockout. */
export function vectorBrokerOptions(overrides: { maxFailures?: number } = {}): BrokerOptions {
  const base = testBrokerOptions();
  return {
    ...base,
    // The vectors open hundreds of sockets within seconds; 2 s bounds a vector that never sends CONNECT.
    limits: { ...base.limits, connectRatePerSec: 100_000, connectTimeoutMs: 2000 },
    lockout: { ...base.lockout, maxFailures: overrides.maxFailures ?? 5 },
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
    const handle = await startBroker(vectorBrokerOptions(overrides), {
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
