import { readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { CommanderError, InvalidArgumentError, type Command } from 'commander';
import { z } from 'zod';
import { clockForSpeed } from '../../simulators/clock.js';
import { runLoad, type LoadSummary } from '../../simulators/load/run.js';
import { play, type PlaySummary } from '../../simulators/player.js';
import { RecorderError, startRecorder } from '../../simulators/recorder.js';
import { countRecordingLines, createRecordingWriter, openRecording, RecordingError } from '../../simulators/recording.js';
import { expandFleet, loadScenario, ScenarioError, timeline } from '../../simulators/scenario/index.js';
import type { ClientKind, Credentials } from '../../simulators/types.js';
import { createCareStore } from '../care/store.js';
import type { CliContext } from './context.js';
import { EXIT_FAILURE, withRegistry } from './devices.js';
import { existingCredentials, provisionFleet, readCredentials, readJsonFile, SimFileError, writeCredentials } from './sim-provision.js';

// `tryggheim sim …`: provision a scenario, run it, record live traffic, replay a recording, load-test.
// Every command prints a human summary, or with --json exactly one JSON object on stdout. Progress bars go
// to stderr, only on a terminal and never with --json. Exit 0 when everything was acknowledged; 1 when
// something was refused or not acknowledged (the run still went on for the others), or the input was bad.

const DEFAULT_BROKER = 'mqtt://127.0.0.1:1883';
const DEFAULT_CREDENTIALS = 'sim-credentials.json';

function parseSpeed(v: string): number | 'max' {
  if (v === 'max') return 'max';
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number or max');
  return n;
}

function positive(what: string, integer: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`expected a positive ${what}`);
    return n;
  };
}

/** Expected failures: one line on stderr, exit 1 (commander's exitOverride contract: already reported). */
async function expected<T>(ctx: CliContext, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RecordingError || err instanceof ScenarioError || err instanceof RecorderError || err instanceof SimFileError) {
      ctx.err(`error: ${err.message}`);
      throw new CommanderError(EXIT_FAILURE, 'TRY_ERR_SIM', err.message);
    }
    throw err;
  }
}

interface Bar {
  update(value: number, total?: number): void;
  stop(): void;
}

function progressBar(json: boolean | undefined, total: number, unit: string): Bar {
  if (json === true || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, hideCursor: true, format: `{bar} {percentage}% | {value}/{total} ${unit} | {eta_formatted} left` },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (value, t) => {
      if (t !== undefined) bar.setTotal(t);
      bar.update(value);
    },
    stop: () => bar.stop(),
  };
}

/** Ctrl-C ends the run gracefully (stop reading, drain, summary); a second Ctrl-C is the usual hard stop. */
function interruptible(): { signal: AbortSignal; release(): void } {
  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function reportPlay(ctx: CliContext, summary: PlaySummary, json: boolean | undefined, extra: Record<string, unknown> = {}): void {
  if (json === true) ctx.out(JSON.stringify({ ...extra, ...summary }));
  else {
    const lat = summary.latencyMs ? `; PUBACK p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms` : '';
    ctx.out(
      `published ${summary.published}, acknowledged ${summary.acknowledged}, failed ${summary.failed}, retried ${summary.retried}, ` +
        `skipped ${summary.skipped} (${summary.clients} clients) in ${(summary.elapsedMs / 1000).toFixed(1)} s, ${summary.ratePerSec} msg/s${lat}`,
    );
    for (const r of summary.refused) ctx.out(`refused: ${r.client}: ${r.reason}`);
    const errs = Object.entries(summary.errors);
    if (errs.length > 0) ctx.out(`errors: ${errs.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  }
  if (summary.refused.length > 0 || summary.failed > 0)
    throw new CommanderError(EXIT_FAILURE, 'TRY_ERR_SIM_INCOMPLETE', 'not everything was acknowledged');
}

interface PlayCommon {
  speed?: number | 'max';
  broker: string;
  credentials: string;
  json?: boolean;
}

export function registerSimCommands(program: Command, ctx: CliContext): void {
  const sim = program.command('sim').description('simulators: provision and run scenarios, record and replay traffic, load tests');

  sim
    .command('provision')
    .description("register a scenario's homes, devices, hub children and secrets; write the credentials file (mode 0600)")
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--credentials <file>', 'credentials file to write (existing secrets in it are kept)', DEFAULT_CREDENTIALS)
    .option('--team <teamId>', 'team of new homes', 'team-sim')
    .option('--rotate', 'give existing devices new secrets')
    .option('--json', 'machine-readable summary')
    .action(async (file: string, opts: { credentials: string; team: string; rotate?: boolean; json?: boolean }) => {
      await expected(ctx, () => {
        const scenario = loadScenario(file);
        const fleet = expandFleet(scenario);
        const existing = existingCredentials(opts.credentials);
        const bar = progressBar(opts.json, fleet.length, 'clients');
        let done = 0;
        const report = withRegistry(ctx, (registry, db) =>
          provisionFleet(registry, fleet, {
            teamId: opts.team,
            timeZone: scenario.timeZone,
            rotate: opts.rotate === true,
            existing,
            onDevice: () => bar.update(++done),
            care: createCareStore({ db }),
          }),
        );
        bar.stop();
        writeCredentials(opts.credentials, report.credentials);
        const { credentials: _secrets, ...summary } = report;
        if (opts.json === true) ctx.out(JSON.stringify({ scenario: scenario.name, credentials: opts.credentials, ...summary }));
        else {
          ctx.out(
            `${scenario.name}: ${report.homesCreated.length} homes and ${report.created.length} devices created, ` +
              `${report.rotated.length} secrets rotated, ${report.kept.length} kept, ${report.childrenMapped} hub children mapped, ` +
              `${report.schedulesSet.length} dose schedules set.`,
          );
          ctx.out(`Credentials written to ${opts.credentials} (keep it private: it holds device secrets).`);
        }
        if (report.missingSecrets.length > 0) {
          ctx.err(
            `error: ${report.missingSecrets.length} devices exist but their secrets are not in ${opts.credentials} ` +
              `(first: ${report.missingSecrets[0] ?? ''}); run again with --rotate to give them new ones`,
          );
          throw new CommanderError(EXIT_FAILURE, 'TRY_ERR_SIM_SECRETS', 'missing secrets');
        }
      });
    });

  sim
    .command('run')
    .description('play a scenario against a broker')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--speed <n|max>', "speed factor (default: the scenario's)", parseSpeed)
    .option('--broker <url>', 'MQTT broker', DEFAULT_BROKER)
    .option('--credentials <file>', 'credentials file (tryggheim sim provision)', DEFAULT_CREDENTIALS)
    .option('--record <file>', 'also write what was played as a recording')
    .option('--json', 'machine-readable summary')
    .action(async (file: string, opts: PlayCommon & { record?: string }) => {
      await expected(ctx, async () => {
        const scenario = loadScenario(file);
        const fleet = expandFleet(scenario);
        const credentials = readCredentials(opts.credentials);
        const kinds = Object.fromEntries(fleet.map((d) => [d.id, d.kind === 'bridge' ? 'bridge' : 'device'] as const));
        const writer =
          opts.record === undefined
            ? undefined
            : createRecordingWriter(opts.record, {
                start: scenario.start,
                source: `sim run ${scenario.name}`,
                timeZone: scenario.timeZone,
              });
        const span = Math.max(1, scenario.end - scenario.start);
        const bar = progressBar(opts.json, 100, '% of scenario time');
        const stop = interruptible();
        const summary = await play(timeline(scenario, fleet), {
          broker: opts.broker,
          credentials,
          kinds,
          clock: clockForSpeed(scenario.start, opts.speed ?? scenario.speed),
          record: writer,
          signal: stop.signal,
          onProgress: (p) => bar.update(Math.min(100, Math.round(((p.at - scenario.start) / span) * 100))),
        }).finally(() => {
          stop.release();
          bar.stop();
        });
        const recorded = writer ? await writer.close({ exclude: new Set(summary.refused.map((r) => r.client)) }) : undefined;
        if (recorded && opts.json !== true)
          ctx.out(`recorded ${recorded.lines} messages of ${recorded.clients} clients to ${opts.record ?? ''}`);
        reportPlay(ctx, summary, opts.json, { scenario: scenario.name, ...(recorded ? { recorded } : {}) });
      });
    });

  sim
    .command('record')
    .description('record live traffic with an observer account (devices add <id> --kind observer --model recorder)')
    .requiredOption('--username <id>', 'observer id')
    .requiredOption('--password-file <file>', "file holding the observer's secret")
    .option('--broker <url>', 'MQTT broker', DEFAULT_BROKER)
    .option('--device <id...>', 'record only these devices or hubs (default: everything)')
    .option('--out <file>', 'recording file', `recording-${new Date().toISOString().replaceAll(':', '').slice(0, 15)}.jsonl`)
    .option('--duration <seconds>', 'stop after this long (default: at Ctrl-C)', positive('number of seconds', false))
    .option('--json', 'machine-readable summary')
    .action(
      async (opts: {
        username: string;
        passwordFile: string;
        broker: string;
        device?: string[];
        out: string;
        duration?: number;
        json?: boolean;
      }) => {
        await expected(ctx, async () => {
          const password = readSecretFile(opts.passwordFile);
          const recorder = await startRecorder({
            broker: opts.broker,
            username: opts.username,
            password,
            devices: opts.device,
            out: opts.out,
          });
          if (opts.json !== true)
            ctx.err(
              `recording ${opts.device?.join(', ') ?? 'everything'} to ${opts.out}${opts.duration ? ` for ${opts.duration} s` : '; Ctrl-C to stop'}`,
            );
          const stop = interruptible();
          await new Promise<void>((resolve) => {
            const timer = opts.duration === undefined ? undefined : setTimeout(resolve, opts.duration * 1000);
            stop.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          stop.release();
          const summary = await recorder.stop();
          if (opts.json === true) ctx.out(JSON.stringify(summary));
          else
            ctx.out(
              `recorded ${summary.lines} messages of ${summary.clients} clients in ${(summary.elapsedMs / 1000).toFixed(1)} s to ${summary.file}`,
            );
        });
      },
    );

  sim
    .command('replay')
    .description('publish a recording against a broker at 1×, N× or maximum speed')
    .argument('<file>', 'recording (.jsonl)')
    .option('--speed <n|max>', 'speed factor', parseSpeed, 1)
    .option('--broker <url>', 'MQTT broker', DEFAULT_BROKER)
    .option('--credentials <file>', 'credentials of the (retargeted) clients', DEFAULT_CREDENTIALS)
    .option('--retarget <map.json>', 'JSON object: recorded client id → client id to play it as')
    .option('--json', 'machine-readable summary')
    .action(async (file: string, opts: PlayCommon & { retarget?: string }) => {
      await expected(ctx, async () => {
        const retarget =
          opts.retarget === undefined ? undefined : readJsonFile(opts.retarget, z.record(z.string(), z.string()), 'retarget map');
        const credentials = readCredentials(opts.credentials);
        const rec = await openRecording(file, { retarget });
        const kinds: Record<string, ClientKind> = Object.fromEntries(rec.header.clients.map((c) => [c.id, c.kind]));
        const bar = progressBar(opts.json, await countRecordingLines(file), 'messages');
        const stop = interruptible();
        const summary = await play(rec.actions(), {
          broker: opts.broker,
          credentials,
          kinds,
          clock: clockForSpeed(rec.start, opts.speed ?? 1),
          signal: stop.signal,
          onProgress: (p) => bar.update(p.actions),
        }).finally(() => {
          stop.release();
          bar.stop();
          rec.close();
        });
        reportPlay(ctx, summary, opts.json, { recording: file });
      });
    });

  sim
    .command('load')
    .description('load test: N devices publishing native measurements at a total rate R for S seconds')
    .requiredOption('--devices <n>', 'devices (their credentials are the first N clients of --credentials)', positive('integer', true))
    .option('--rate <msgPerSec>', 'total messages per second (default: as fast as the acks allow)', positive('number', false))
    .requiredOption('--duration <seconds>', 'how long to publish', positive('number of seconds', false))
    .option('--broker <url>', 'MQTT broker', DEFAULT_BROKER)
    .option('--credentials <file>', 'credentials file', DEFAULT_CREDENTIALS)
    .option('--json', 'machine-readable summary')
    .action(async (opts: { devices: number; rate?: number; duration: number; broker: string; credentials: string; json?: boolean }) => {
      await expected(ctx, async () => {
        const devices = loadDevices(readCredentials(opts.credentials), opts.devices, opts.credentials);
        const bar = progressBar(opts.json, Math.round(opts.duration), 's');
        const summary = await runLoad({
          broker: opts.broker,
          devices,
          ratePerSec: opts.rate,
          durationMs: opts.duration * 1000,
          onProgress: (p) => bar.update(Math.min(Math.round(opts.duration), Math.round(p.elapsedMs / 1000))),
        }).finally(() => bar.stop());
        reportLoad(ctx, summary, opts.json);
      });
    });
}

function readSecretFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new SimFileError(`${file}: cannot read the password file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function loadDevices(creds: Credentials, n: number, file: string): { id: string; secret: string }[] {
  const all = Object.entries(creds).map(([id, c]) => ({ id, secret: c.secret }));
  if (all.length < n) throw new SimFileError(`${file}: has ${all.length} clients, --devices asks for ${n}`);
  return all.slice(0, n);
}

function reportLoad(ctx: CliContext, s: LoadSummary, json: boolean | undefined): void {
  const refused = Object.values(s.refused).reduce((a, b) => a + b, 0);
  if (json === true) ctx.out(JSON.stringify(s));
  else {
    const lat = s.latencyMs ? `; PUBACK p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms` : '';
    ctx.out(
      `${s.connected}/${s.devices} devices connected (${refused} refused); published ${s.published}, acknowledged ${s.acknowledged}, ` +
        `failed ${s.failed} in ${(s.durationMs / 1000).toFixed(1)} s: ${s.achievedRate} msg/s${s.targetRate === null ? '' : ` (target ${s.targetRate})`}${lat}`,
    );
    for (const [reason, count] of Object.entries(s.refused)) ctx.out(`refused: ${count} × ${reason}`);
  }
  if (refused > 0 || s.failed > 0 || s.missingAtEnd > 0)
    throw new CommanderError(EXIT_FAILURE, 'TRY_ERR_SIM_INCOMPLETE', 'not everything was acknowledged');
}
