import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { databasePath, openDatabase } from '../../gateway/db/sqlite.js';
import { createDeviceRegistry, type DeviceRegistry } from '../../gateway/devices/registry.js';
import { enter, track, type Phase, type ServerLog } from './phase.js';
import { LineTap, cleanEnv, countEvent, exited, freePort, httpStatus, sleep, spawnChild, tcpOpen } from './proc.js';
import { UsageError } from './types.js';

// The servers the benchmarks measure, started the same way by each: the compiled Tryggheim gateway in its
// own process (production config apart from ports, log level and what the caller adds), and Debian's
// mosquitto with a password file. Also the devices they share: provisioned in the gateway's database.

const distDir = fileURLToPath(new URL('../../', import.meta.url));
const projectDir = join(distDir, '..');
const gatewayCli = join(distDir, 'gateway/cli/main.js');
export const READY_TIMEOUT_MS = 30_000;

export function requireBuiltGateway(): void {
  if (!existsSync(gatewayCli)) throw new UsageError(`${gatewayCli} not found: run \`npm run build\` first (npm run bench does)`);
}

/** --gateway-node-options, split into flags. */
export function splitFlags(flags: string | undefined): string[] {
  return flags?.split(/\s+/).filter((s) => s !== '') ?? [];
}

/** --gateway-env KEY=VALUE..., as pairs. */
export function parseGatewayEnv(list: readonly string[] | undefined): [string, string][] {
  return (list ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq < 1) throw new UsageError(`--gateway-env wants KEY=VALUE (got ${JSON.stringify(kv)})`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}

/** Registers devices in the gateway's database under `dataDir`, all in one transaction (addDevice's own becomes a savepoint). */
export function provision<T>(dataDir: string, add: (registry: DeviceRegistry) => T[]): T[] {
  const db = openDatabase(databasePath(dataDir));
  try {
    const registry = createDeviceRegistry({ db });
    let devices: T[] = [];
    // Seconds instead of minutes of fsyncs.
    db.transaction(() => {
      devices = add(registry);
    })();
    return devices;
  } finally {
    db.close();
  }
}

/** The `wanted` series of a Prometheus exposition; labelled ones only when non-zero. */
export function parseMetrics(text: string, wanted: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m?.[1] || !wanted.includes(m[1])) continue;
    const value = Number(m[3]);
    if (m[2] !== undefined && value === 0) continue;
    out[m[1] + (m[2] ?? '')] = value;
  }
  return out;
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** The MQTT port. */
  port: number;
  /** performance.now() at the spawn. */
  started: number;
  startToReadyMs: number;
  log: () => ServerLog;
}

export interface GatewayProcess extends ServerProcess {
  /** The Prometheus text of its /metrics. */
  metricsText: () => Promise<string>;
}

/** `--gateway-log FILE`: every line the gateway prints (its log, `--trace-gc`) is appended there too. */
let gatewayLogFile: string | undefined;
export function keepGatewayLog(file: string | undefined): void {
  gatewayLogFile = file;
}

/**
 * Starts `node [nodeOptions] gateway/cli/main.js start` and waits for /readyz. `env` is applied over the
 * bench's settings (data dir, ports on 127.0.0.1, no WebSocket listener, log level warn).
 */
export async function startGatewayProcess(
  phase: Phase,
  opts: { dataDir: string; nodeOptions: readonly string[]; env: Record<string, string>; fdLimit: number },
): Promise<GatewayProcess> {
  let lastError = '';
  // A port picked free can be taken before the gateway binds it: try again with new ones.
  for (let tries = 0; tries < 3; tries++) {
    const mqttPort = await freePort();
    let httpPort = await freePort();
    while (httpPort === mqttPort) httpPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...cleanEnv(),
      TRYGGHEIM_DATA_DIR: opts.dataDir,
      TRYGGHEIM_BROKER__HOST: '127.0.0.1',
      TRYGGHEIM_BROKER__TCP__PORT: String(mqttPort),
      TRYGGHEIM_BROKER__WS__ENABLED: 'false',
      TRYGGHEIM_HTTP__HOST: '127.0.0.1',
      TRYGGHEIM_HTTP__PORT: String(httpPort),
      TRYGGHEIM_LOG__LEVEL: 'warn',
      ...opts.env,
    };
    enter(phase, phase.stage);
    const started = performance.now();
    const child = spawnChild(process.execPath, [...opts.nodeOptions, gatewayCli, 'start'], { env, cwd: projectDir, fdLimit: opts.fdLimit });
    track(phase, child);
    const events: Record<string, number> = {};
    const kept = gatewayLogFile === undefined ? undefined : createWriteStream(gatewayLogFile, { flags: 'a' });
    if (kept !== undefined) child.once('exit', () => kept.end());
    const stdout = new LineTap(child.stdout, 40, (line) => {
      countEvent(events, line);
      kept?.write(`${line}\n`);
    });
    const stderr = new LineTap(child.stderr, 40, (line) => kept?.write(`${line}\n`));
    const log = (): ServerLog => ({ events, tail: [...stdout.last(), ...stderr.last()] });

    const readyUrl = `http://127.0.0.1:${httpPort}/readyz`;
    const gone = exited(child);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (performance.now() - started > READY_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(`gateway not ready after ${READY_TIMEOUT_MS / 1000} s:\n${log().tail.join('\n')}`);
      }
      const status = await Promise.race([httpStatus(readyUrl), gone.then(() => 0)]);
      if (status === 200) {
        return {
          child,
          pid: child.pid ?? 0,
          port: mqttPort,
          started,
          startToReadyMs: performance.now() - started,
          log,
          metricsText: async () => {
            const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
            return res.text();
          },
        };
      }
      await sleep(100);
    }
    await gone;
    lastError = log().tail.join('\n');
    if (!/EADDRINUSE|cannot listen/i.test(lastError)) break;
    phase.progress(`[${phase.name}] port taken, retrying with other ports`);
  }
  throw new Error(`gateway did not start:\n${lastError}`);
}

/**
 * Writes `dir/passwd` for these users and hashes it with `mosquitto_passwd -U` (every plain-text password
 * of the file in place, PBKDF2-SHA512: one process, not 10,000). `hashMs`: how long the hashing took.
 */
export function writeMosquittoPasswords(dir: string, users: readonly { id: string; secret: string }[]): { file: string; hashMs: number } {
  const file = join(dir, 'passwd');
  writeFileSync(file, users.map((d) => `${d.id}:${d.secret}\n`).join(''), { mode: 0o600 });
  const t0 = performance.now();
  const hashed = spawnSync('mosquitto_passwd', ['-U', file], { encoding: 'utf8', timeout: 60_000 });
  if (hashed.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${hashed.stderr || String(hashed.error)}`);
  return { file, hashMs: performance.now() - t0 };
}

export function mosquittoVersion(bin: string): string {
  return /mosquitto version (\S+)/.exec(spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
}

/**
 * Starts mosquitto on a free port of 127.0.0.1 with the password file and no persistence, and waits until it
 * accepts TCP connections. `tuning`: extra configuration lines.
 */
export async function startMosquittoProcess(
  phase: Phase,
  opts: { bin: string; dir: string; passwordFile: string; tuning: readonly string[]; fdLimit: number },
): Promise<ServerProcess> {
  let lastError = '';
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const conf = join(opts.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${opts.passwordFile}`,
        'max_connections -1',
        'persistence false',
        ...opts.tuning,
        // As root mosquitto drops to the `mosquitto` user, which cannot read our private temp dir.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'connection_messages false',
        '',
      ].join('\n'),
    );
    enter(phase, phase.stage);
    const started = performance.now();
    const child = spawnChild(opts.bin, ['-c', conf], { env: cleanEnv(), fdLimit: opts.fdLimit });
    track(phase, child);
    const stdout = new LineTap(child.stdout, 40);
    const stderr = new LineTap(child.stderr, 40);
    const log = (): ServerLog => ({ events: {}, tail: [...stdout.last(), ...stderr.last()] });
    while (child.exitCode === null && child.signalCode === null) {
      if (performance.now() - started > READY_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(`mosquitto not listening after ${READY_TIMEOUT_MS / 1000} s:\n${log().tail.join('\n')}`);
      }
      if (await tcpOpen(port)) {
        return { child, pid: child.pid ?? 0, port, started, startToReadyMs: performance.now() - started, log };
      }
      await sleep(50);
    }
    await exited(child);
    lastError = log().tail.join('\n');
    if (!/in use/i.test(lastError)) break;
  }
  throw new Error(`mosquitto did not start:\n${lastError}`);
}
