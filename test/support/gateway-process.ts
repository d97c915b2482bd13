import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll } from 'vitest';
import { trackChild } from '../../gateway/process/children.js';

// The compiled gateway (`node dist/gateway/cli/main.js start`) as a child process, for tests that need a
// real process boundary: SIGKILL at a chosen moment, restart on the same data dir and ports. The ports are
// read from the gateway's own `gateway.listening` log lines, so the caller must not set the log level above
// `info` (the default here). `npm test` builds first; run `npm run build` before running a file alone.

export const GATEWAY_CLI = resolve('dist/gateway/cli/main.js');

export interface GatewayProcessOptions {
  /** TRYGGHEIM_* settings for the child. Nothing else from this process's environment is passed but PATH. */
  env: Readonly<Record<string, string>>;
  /** Default GATEWAY_CLI. */
  cli?: string;
  /** Until the HTTP listener is logged (it starts last). Default 20 s. */
  startTimeoutMs?: number;
}

export interface GatewayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GatewayProcess {
  readonly pid: number;
  /** The TCP MQTT listener's port (absent when the TCP listener is disabled: then 0). */
  readonly mqttPort: number;
  readonly httpPort: number;
  /** Settles when the process has exited (its listeners and file locks are released by then). */
  readonly exited: Promise<GatewayExit>;
  /** stdout and stderr, interleaved as received (the last 1 MiB). */
  output(): string;
  /** Sends a raw signal (e.g. SIGKILL for a crash); see `exited`. */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM (the gateway's clean shutdown), SIGKILL after `timeoutMs`; resolves on exit. */
  stop(timeoutMs?: number): Promise<GatewayExit>;
}

/** The gateway exited (or never logged its listeners) before it was up. `output` says why, e.g. "cannot listen". */
export class GatewayStartError extends Error {
  override readonly name = 'GatewayStartError';
  constructor(
    message: string,
    readonly output: string,
    readonly exit?: GatewayExit,
  ) {
    super(message);
  }
  /** The CLI's "cannot listen" failure (exit 1): the port was taken. */
  get addressInUse(): boolean {
    return /cannot listen|EADDRINUSE/.test(this.output);
  }
}

const MAX_OUTPUT = 1024 * 1024;
/** Gateways this module started (the process-exit hook in gateway/process/children.ts is the last resort). */
const mine = new Set<ChildProcess>();
function track(child: ChildProcess): void {
  mine.add(child);
  child.once('exit', () => mine.delete(child));
  trackChild(child);
}

// Registered when a test file imports this module, so it runs after the file's own afterAll hooks: a test
// that failed before stopping its gateway leaves no process behind.
afterAll(async () => {
  await Promise.allSettled(
    [...mine].map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) {
            done();
            return;
          }
          c.once('exit', () => done());
          c.kill('SIGKILL');
        }),
    ),
  );
});

function listenerPort(out: string, listener: string): number | undefined {
  const m = new RegExp(`"listener":"${listener}","host":"[^"]*","port":(\\d+)`).exec(out);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Spawns `<cli> start` and resolves once the gateway has logged its HTTP listener (the last to start). */
export async function startGatewayProcess(opts: GatewayProcessOptions): Promise<GatewayProcess> {
  const cli = opts.cli ?? GATEWAY_CLI;
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does it)`);
  const child = spawn(process.execPath, [cli, 'start'], {
    env: { PATH: process.env.PATH ?? '', TRYGGHEIM_LOG__LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let out = '';
  const append = (d: Buffer): void => {
    out += d.toString();
    if (out.length > MAX_OUTPUT) out = out.slice(out.length - MAX_OUTPUT);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<GatewayExit>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });

  const ports = await new Promise<{ mqtt: number; http: number }>((ok, fail) => {
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      if (err) fail(err);
    };
    const check = (): void => {
      const http = listenerPort(out, 'http');
      if (http === undefined) return;
      finish();
      ok({ mqtt: listenerPort(out, 'mqtt-tcp') ?? 0, http });
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new GatewayStartError(`gateway did not log its listeners within ${opts.startTimeoutMs ?? 20_000} ms`, out));
    }, opts.startTimeoutMs ?? 20_000);
    child.stdout.on('data', check);
    void exited.then((exit) => {
      finish(new GatewayStartError(`gateway exited during start-up (code ${exit.code}, signal ${exit.signal})`, out, exit));
    });
  });

  const pid = child.pid ?? -1;
  return {
    pid,
    mqttPort: ports.mqtt,
    httpPort: ports.http,
    exited,
    output: () => out,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop(timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** One sample of a Prometheus metric without labels from the gateway's /metrics, or undefined. */
export async function scrapeMetric(httpPort: number, name: string, timeoutMs = 2000): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
