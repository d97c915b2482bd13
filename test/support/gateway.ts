import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../gateway/config/load.js';
import type { ConfigInput } from '../../gateway/config/schema.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/main.js';

/** A real gateway (SQLite registry, level sessions) in a temp data dir, every port 0 on loopback. */
export async function startTestGateway(
  overrides: ConfigInput = {},
  opts: { dataDir?: string } & Omit<GatewayOptions, 'logger'> = {},
): Promise<Gateway & { dataDir: string; mqttPort: number }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tryggheim-gw-'));
  const config = loadConfig({
    env: {},
    overrides: {
      ...overrides,
      dataDir,
      log: { level: 'silent' },
      broker: {
        host: '127.0.0.1',
        ...overrides.broker,
        tcp: { port: 0, ...overrides.broker?.tcp },
        tls: { port: 0, ...overrides.broker?.tls },
        ws: { enabled: false, port: 0, ...overrides.broker?.ws },
      },
      http: { host: '127.0.0.1', port: 0 },
    },
  });
  const { dataDir: _d, ...gatewayOpts } = opts;
  const gw = await startGateway(config, { logger: createLogger({ level: 'silent' }), ...gatewayOpts });
  return Object.assign(gw, { dataDir, mqttPort: gw.broker.address('tcp')?.port ?? 0 });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a third-party client (mosquitto_pub/sub) with a hard timeout; never rejects. */
export function run(cmd: string, args: readonly string[], timeoutMs = 10_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args as string[], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
