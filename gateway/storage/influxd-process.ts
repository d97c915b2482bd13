import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { basicAuth } from './influx-transport.js';
import { quoteIdent, quoteLiteral, runInfluxQL } from './influxql.js';
import { trackChild } from '../process/children.js';

// A local influxd (1.x, e.g. Debian's 1.6.7) for the demo and the tests: own config, own data folder,
// loopback only, free ports. Production runs InfluxDB as its own service; this is not a supervisor.

export interface InfluxdOptions {
  /** Kept on stop. Absent: a temp folder, removed on stop. */
  dataDir?: string;
  /** Default `influxd` from PATH. */
  binary?: string;
  /** HTTP port; default a free one. */
  port?: number;
  /** Creates this admin user and turns `auth-enabled` on (1.x lets the first admin be created without auth). */
  auth?: { username: string; password: string };
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  logger?: Logger;
}

export interface InfluxdProcess {
  readonly url: string;
  readonly port: number;
  /** Changes on restart(). */
  readonly pid: number;
  readonly dataDir: string;
  /** SIGTERM (SIGCONT first if paused), SIGKILL after stopTimeoutMs; removes the folder if it created it. */
  stop(): Promise<void>;
  /** Raw signal to the process (tests). */
  kill(signal: NodeJS.Signals): void;
  /** Stops (keeping the data) and starts again on the same ports. */
  restart(): Promise<void>;
  /** SIGSTOP: the port stays open, nothing answers (a hung server). */
  pause(): void;
  resume(): void;
  /** The last few KB of the process's output. */
  output(): string;
}

/**
 * A free TCP port on `host`: bind port 0, read it, close. Racy by nature — another process may take the
 * port between close() and influxd's bind; influxd then fails to start and the error says so.
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => {
        resolvePort(port);
      });
    });
  });
}

function tomlString(s: string): string {
  // JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes.
  return JSON.stringify(s);
}

export function influxdConfig(opts: { dir: string; httpPort: number; rpcPort: number; authEnabled: boolean }): string {
  const d = (sub: string): string => tomlString(join(opts.dir, sub));
  return `# written by tryggheim (gateway/storage/influxd-process.ts)
reporting-disabled = true
# Debian's package renames the key above (its default is already off).
reporting-enabled = false
bind-address = ${tomlString(`127.0.0.1:${opts.rpcPort}`)}

[meta]
  dir = ${d('meta')}

[data]
  dir = ${d('data')}
  wal-dir = ${d('wal')}
  wal-fsync-delay = "0s"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = ${tomlString(`127.0.0.1:${opts.httpPort}`)}
  auth-enabled = ${opts.authEnabled ? 'true' : 'false'}
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  log-enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`;
}

const OUTPUT_LIMIT = 16 * 1024;

/** 1.x lets the first admin be created without credentials. On a reused folder it exists: check it works. */
async function createAdmin(url: string, auth: { username: string; password: string }): Promise<void> {
  const target = { url, database: '_internal', timeoutMs: 10_000, authorization: basicAuth(auth.username, auth.password) };
  try {
    await runInfluxQL(target, `CREATE USER ${quoteIdent(auth.username)} WITH PASSWORD ${quoteLiteral(auth.password)} WITH ALL PRIVILEGES`, {
      method: 'POST',
    });
  } catch (e) {
    await runInfluxQL(target, 'SHOW DATABASES').catch(() => Promise.reject(e instanceof Error ? e : new Error(String(e))));
  }
}

export async function startInfluxdProcess(opts: InfluxdOptions = {}): Promise<InfluxdProcess> {
  const ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'tryggheim-influxd-')) : resolve(opts.dataDir);
  const binary = opts.binary ?? 'influxd';
  const startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const log = opts.logger?.child({ component: 'influxd' });

  let port = 0;
  let rpcPort = 0;
  let child: ChildProcess | undefined;
  let output = '';
  let paused = false;
  let removed = false;

  const cleanupDir = (): void => {
    if (ownsDir && !removed) {
      removed = true;
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  function append(chunk: Buffer): void {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  }

  function exited(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise((r) => c.once('exit', () => r()));
  }

  async function stopChild(): Promise<void> {
    const c = child;
    if (!c) return;
    const done = exited(c);
    if (c.exitCode === null && c.signalCode === null) {
      if (paused) c.kill('SIGCONT'); // a stopped process would not act on SIGTERM until continued
      paused = false;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), stopTimeoutMs);
      await done;
      clearTimeout(timer);
    }
    child = undefined;
  }

  async function waitReady(c: ChildProcess): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    const url = `http://127.0.0.1:${port}/ping`;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`influxd exited during start (code ${c.exitCode ?? 'none'}, signal ${c.signalCode ?? 'none'}):\n${output}`);
      }
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.status === 204) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`influxd did not answer ${url} within ${startTimeoutMs} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function launch(): Promise<void> {
    const confPath = join(dataDir, 'influxd.conf');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(confPath, influxdConfig({ dir: dataDir, httpPort: port, rpcPort, authEnabled: opts.auth !== undefined }));
    output = '';
    const c = spawn(binary, ['-config', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    trackChild(c);
    c.stdout.on('data', append);
    c.stderr.on('data', append);
    const spawnError = new Promise<never>((_, reject) => c.once('error', (e) => reject(new Error(`cannot start ${binary}: ${e.message}`))));
    try {
      await Promise.race([waitReady(c), spawnError]);
    } catch (e) {
      await stopChild();
      throw e;
    }
    log?.info({ event: 'influxd.started', pid: c.pid, port }, 'influxd started');
  }

  try {
    port = opts.port ?? (await findFreePort());
    do rpcPort = await findFreePort();
    while (rpcPort === port);
    await launch();
    if (opts.auth) await createAdmin(`http://127.0.0.1:${port}`, opts.auth);
  } catch (e) {
    await stopChild();
    cleanupDir();
    throw e;
  }

  const handle: InfluxdProcess = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.pid ?? -1;
    },
    dataDir,
    async stop() {
      await stopChild();
      cleanupDir();
      log?.info({ event: 'influxd.stopped', port }, 'influxd stopped');
    },
    kill(signal) {
      child?.kill(signal);
    },
    async restart() {
      await stopChild();
      await launch();
    },
    pause() {
      if (child && !paused) {
        child.kill('SIGSTOP');
        paused = true;
      }
    },
    resume() {
      if (child && paused) {
        child.kill('SIGCONT');
        paused = false;
      }
    },
    output: () => output,
  };
  return handle;
}
