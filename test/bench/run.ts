#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { alertsBenchmark } from './alerts/index.js';
import { connectionsBenchmark } from './connections/index.js';
import { ingestBenchmark } from './ingest/index.js';
import { keepGatewayLog } from './servers.js';
import { UsageError, type Benchmark, type BenchOptions } from './types.js';

// `npm run bench -- <name> [options]`: runs one benchmark by name. Benchmarks are a plain name → function
// map; add one by writing test/bench/<name>/index.ts (or <name>.ts) and listing it here.
// Exit codes: 0 ran and met its targets, 1 failed or missed a target (the summary says which),
// 64 usage (unknown benchmark, bad option), 70 a bug in the bench itself.

export const BENCHMARKS: Readonly<Record<string, { description: string; run: Benchmark }>> = {
  connections: {
    description: '10,000 devices connect at once: Tryggheim gateway vs mosquitto (rate, CONNACK latency, RSS)',
    run: connectionsBenchmark,
  },
  ingest: {
    description:
      "1,000 devices publish QoS 1: messages/s acked AND stored in InfluxDB, Tryggheim vs mosquitto + a DIY subscriber, and influxd's own ceiling",
    run: ingestBenchmark,
  },
  alerts: {
    description:
      '5,000 msg/s of telemetry from 1,000 devices, 200 falls: publish → SSE alert latency (p99 ≤ 50 ms) and door-left-open timer lateness (≤ 1 s)',
    run: alertsBenchmark,
  },
};

const EXIT_USAGE = 64;
const EXIT_BUG = 70;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function listNames(): string {
  return Object.entries(BENCHMARKS)
    .map(([name, b]) => `  ${name.padEnd(14)} ${b.description}`)
    .join('\n');
}

interface RawOptions {
  devices?: number;
  json?: boolean;
  concurrency?: number;
  workers?: number;
  timeout?: number;
  only?: string;
  retries?: number;
  connectRate?: number;
  maxUnauthenticated?: number;
  gatewayNodeOptions?: string;
  gatewayEnv?: string[];
  gatewayLog?: string;
  window?: number;
  warmup?: number;
  duration?: number;
  profile?: boolean;
}

export async function main(argv: readonly string[]): Promise<number> {
  const err = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  let exitCode = 0;
  const program = new Command('bench')
    .description(`Tryggheim benchmarks. Benchmarks:\n${listNames()}`)
    .argument('<name>', 'benchmark to run')
    .option('--devices <n>', 'simulated devices', positiveInt)
    .option('--json', 'print the result as JSON on stdout (progress still goes to stderr)')
    .option('--concurrency <n>', 'connection attempts in flight, over all client workers', positiveInt)
    .option('--window <n>', 'ingest: unacknowledged QoS 1 publishes per device', positiveInt)
    .option('--warmup <sec>', 'ingest: seconds of publishing before the measured window', nonNegativeInt)
    .option('--duration <sec>', 'ingest: seconds of the measured window', positiveInt)
    .option('--profile', 'ingest: CPU-profile the gateway (--cpu-prof) and summarise where its time goes')
    .option('--workers <n>', 'client worker processes', positiveInt)
    .option('--timeout <sec>', 'hard limit per target in seconds; everything is killed after it', positiveInt)
    .option(
      '--only <target>',
      'measure only these targets (connections: tryggheim | mosquitto; ingest: comma list of ceiling, tryggheim, diy)',
    )
    .option('--retries <n>', 'retries per device after a refused attempt', nonNegativeInt)
    .option('--connect-rate <n>', 'override broker.limits.connectRatePerSec (default: production default)', positiveInt)
    .option('--max-unauthenticated <n>', 'override broker.limits.maxUnauthenticated (default: production default)', positiveInt)
    .option('--gateway-node-options <flags>', 'extra node flags for the gateway process (e.g. --cpu-prof --cpu-prof-dir=DIR)')
    .option('--gateway-log <file>', 'append everything the gateway prints (its log, --trace-gc) to this file')
    .option('--gateway-env <KEY=VALUE...>', 'extra environment for the gateway, for diagnosis (e.g. TRYGGHEIM_BROKER__PERSISTENCE=memory)')
    .exitOverride()
    .showHelpAfterError()
    .action(async (name: string, raw: RawOptions) => {
      const bench = Object.hasOwn(BENCHMARKS, name) ? BENCHMARKS[name] : undefined;
      if (bench === undefined) {
        err(`bench: unknown benchmark ${JSON.stringify(name)}. Known benchmarks:\n${listNames()}`);
        exitCode = EXIT_USAGE;
        return;
      }
      const opts: BenchOptions = {
        devices: raw.devices,
        json: raw.json === true,
        concurrency: raw.concurrency,
        workers: raw.workers,
        timeoutSec: raw.timeout,
        only: raw.only,
        retries: raw.retries,
        connectRatePerSec: raw.connectRate,
        maxUnauthenticated: raw.maxUnauthenticated,
        gatewayNodeOptions: raw.gatewayNodeOptions,
        gatewayEnv: raw.gatewayEnv,
        window: raw.window,
        warmupSec: raw.warmup,
        durationSec: raw.duration,
        profile: raw.profile,
      };
      keepGatewayLog(raw.gatewayLog);
      const result = await bench.run(opts, err);
      if (opts.json) process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
      else process.stdout.write(`${result.lines.join('\n')}\n`);
      exitCode = result.ok ? 0 : 1;
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help / --version are not errors; every other commander error is a usage error, already printed.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      err(`bench: ${e.message}`);
      return EXIT_USAGE;
    }
    err(`bench: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT_BUG;
  }
}

const invokedAs = process.argv[1] ?? '';
if (invokedAs.endsWith('/bench/run.js')) {
  const code = await main(process.argv);
  // Child processes and sockets are all closed by now; exit explicitly so a stray handle cannot hang CI.
  process.exit(code);
}
