import { mkdirSync } from 'node:fs';
import type { WorkerDevice } from '../connections-worker.js';
import { mosquittoVersion, startGatewayProcess, startMosquittoProcess, writeMosquittoPasswords, type ServerProcess } from '../servers.js';
import type { TargetPhase } from './params.js';
import { fmtS } from './report.js';

// The two servers the devices connect to, each ready for the first CONNECT.

export interface Server extends ServerProcess {
  version: string;
  /** Prometheus text from the gateway's /metrics (Tryggheim only). */
  metrics?: () => Promise<string>;
}

/** The gateway with its production configuration, apart from ports, log level and the admission limits asked for. */
export async function startTryggheim(ctx: TargetPhase, dataDir: string): Promise<Server> {
  const { params } = ctx;
  const env: Record<string, string> = Object.fromEntries(params.gatewayEnv);
  if (params.gatewayLimits.connectRatePerSec !== 'default') {
    env.TRYGGHEIM_BROKER__LIMITS__CONNECT_RATE_PER_SEC = String(params.gatewayLimits.connectRatePerSec);
  }
  if (params.gatewayLimits.maxUnauthenticated !== 'default') {
    env.TRYGGHEIM_BROKER__LIMITS__MAX_UNAUTHENTICATED = String(params.gatewayLimits.maxUnauthenticated);
  }
  const gw = await startGatewayProcess(ctx, { dataDir, nodeOptions: params.gatewayNodeOptions, env, fdLimit: params.serverFdLimit });
  const version = `node ${process.version}, ${params.gatewayNodeOptions.join(' ')}`.trim().replace(/,$/, '');
  return { ...gw, version, metrics: gw.metricsText };
}

export async function startMosquitto(ctx: TargetPhase, bin: string, dir: string, devices: readonly WorkerDevice[]): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const passwords = writeMosquittoPasswords(dir, devices);
  ctx.progress(`[mosquitto] password file for ${devices.length} users hashed in ${fmtS(passwords.hashMs)}`);
  const version = mosquittoVersion(bin);
  const m = await startMosquittoProcess(ctx, {
    bin,
    dir,
    passwordFile: passwords.file,
    tuning: ['set_tcp_nodelay true'],
    fdLimit: ctx.params.serverFdLimit,
  });
  return { ...m, version: `mosquitto ${version}` };
}
