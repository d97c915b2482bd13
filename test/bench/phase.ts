import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineTap, exited, spawnChild, stopChild } from './proc.js';

// What every benchmark does around one measured target (a "phase"): a scratch directory and child
// processes that never outlive the bench, a stage name for failure reports, a hard deadline, IPC promises
// that fail when their child dies, and stopping a server with a summary of how it went.

export interface Phase {
  readonly name: string;
  /** Processes of this phase: killed when its deadline passes. */
  readonly children: Set<ChildProcess>;
  /** Every process of the bench (killed on exit), where that is another set than `children`. */
  readonly all?: Set<ChildProcess>;
  stage: string;
  /** Set when the deadline passed: the abandoned measurement must not start anything new. */
  aborted: boolean;
  readonly progress: (line: string) => void;
}

/** Moves the phase to its next stage, or stops it when its deadline has passed. */
export function enter(phase: Phase, stage: string): void {
  if (phase.aborted) throw new Error(`aborted before ${stage}`);
  phase.stage = stage;
}

export function track(phase: Phase, child: ChildProcess): void {
  phase.children.add(child);
  phase.all?.add(child);
}

export function say(phase: Phase, line: string): void {
  phase.progress(`[${phase.name}] ${line}`);
}

/**
 * The phase's result, or `failed(why)` when it threw or `timeoutSec` passed first; either way every process
 * of the phase is killed then. `what` names the phase in the timeout message.
 */
export async function withDeadline<R>(
  phase: Phase,
  timeoutSec: number,
  what: 'target' | 'phase',
  run: Promise<R>,
  failed: (failure: string) => R,
): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, timeoutSec * 1000);
  });
  // The measurement may still settle after a timeout; nobody waits for it then.
  run.catch(() => undefined);
  const winner = await Promise.race([
    run.then(
      (r) => ({ r }),
      (e: unknown) => ({ e }),
    ),
    deadline,
  ]);
  clearTimeout(timer);
  if (winner === 'timeout') {
    phase.aborted = true;
    for (const c of phase.children) c.kill('SIGKILL');
    return failed(`hard timeout of ${timeoutSec} s; every process of this ${what} was killed`);
  }
  if ('e' in winner) {
    phase.aborted = true;
    for (const c of phase.children) c.kill('SIGKILL');
    const e = winner.e;
    return failed(e instanceof Error ? e.message : String(e));
  }
  return winner.r;
}

export interface Scratch {
  /** A fresh temporary directory, removed at the end. */
  readonly dir: string;
  /** Every process of the bench: SIGKILLed at the end, on SIGINT/SIGTERM and if the bench itself crashes. */
  readonly children: Set<ChildProcess>;
  /** A process that is not a ChildProcess of ours (influxd): stopped at the end, SIGKILLed when the bench is cut short. */
  readonly own: (proc: { kill(signal: NodeJS.Signals): void; stop(): Promise<void> }) => void;
}

/** Runs `body` with a scratch directory and a process set that are cleaned up however it ends. */
export async function withScratch<T>(prefix: string, body: (scratch: Scratch) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const children = new Set<ChildProcess>();
  const owned: { kill(signal: NodeJS.Signals): void; stop(): Promise<void> }[] = [];
  const cleanUp = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const p of owned) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    cleanUp();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Last resort if the bench itself crashes: no server or worker outlives it, no temp dir is left.
  process.once('exit', cleanUp);
  try {
    return await body({ dir, children, own: (p) => owned.push(p) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanUp);
    for (const p of owned) await p.stop().catch(() => undefined);
    cleanUp();
  }
}

export interface Latch {
  /** Rejects every promise guarded so far and from now on. */
  fail(e: Error): void;
  /**
   * `p`, or the latch's failure if that comes first. Marked handled: after a timeout nobody awaits it, and
   * an unhandled rejection would end the whole bench before it has cleaned up.
   */
  guard<T>(p: Promise<T>): Promise<T>;
}

export function failureLatch(): Latch {
  let fail!: (e: Error) => void;
  const failure = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  failure.catch(() => undefined);
  return {
    fail,
    guard: <T>(p: Promise<T>): Promise<T> => {
      const q = Promise.race([p, failure]);
      q.catch(() => undefined);
      return q;
    },
  };
}

/** Starts a bench helper script (a client worker, a subscriber) with an IPC channel, tracked by the phase. */
export function spawnHelper(
  phase: Phase,
  script: string,
  opts: { fdLimit?: number; serialization?: 'advanced' } = {},
): { child: ChildProcess; stderr: LineTap } {
  enter(phase, phase.stage);
  const child = spawnChild(process.execPath, [script], { env: process.env, ipc: true, ...opts });
  track(phase, child);
  const stderr = new LineTap(child.stderr, 20);
  new LineTap(child.stdout, 20);
  return { child, stderr };
}

/** Fails the latch with `what (code, signal)` and the child's last stderr if it exits while `expected()` is false. */
export function failOnExit(child: ChildProcess, stderr: LineTap, latch: Latch, what: string, expected: () => boolean): void {
  child.once('exit', (code, signal) => {
    if (!expected()) latch.fail(new Error(`${what} (code ${code}, signal ${signal}):\n${stderr.last().join('\n')}`));
  });
}

/** `items` in `min(n, items.length)` consecutive shares, each with the index of its first item. */
export function shares<T>(items: readonly T[], n: number): { offset: number; items: T[] }[] {
  const count = Math.min(n, items.length);
  const per = Math.ceil(items.length / count);
  return Array.from({ length: count }, (_, i) => ({ offset: i * per, items: items.slice(i * per, (i + 1) * per) }));
}

export interface ServerLog {
  /** Gateway log lines counted by event (see countEvent); empty for mosquitto. */
  events: Record<string, number>;
  tail: string[];
}

/** `orDeath(p)`: p, unless the server exits first; then an error with its last output. */
export function orDeathOf(child: ChildProcess, log: () => ServerLog): <T>(p: Promise<T>) => Promise<T> {
  const gone = exited(child).then((info) => {
    throw new Error(`server exited during the run (code ${info.code}, signal ${info.signal}); last output:\n${log().tail.join('\n')}`);
  });
  gone.catch(() => undefined);
  return <T>(p: Promise<T>): Promise<T> => Promise.race([p, gone]);
}

export interface Shutdown {
  code: number | null;
  signal: string | null;
  /** SIGTERM was not enough within the grace time. */
  killed: boolean;
  ms: number;
}

/** SIGTERM, SIGKILL after `graceMs`. */
export async function stopServer(child: ChildProcess, graceMs: number): Promise<Shutdown> {
  const s = await stopChild(child, 'SIGTERM', graceMs);
  return { code: s.code, signal: s.signal, killed: s.killed, ms: s.elapsedMs };
}

/** The server's log for the result: its output tail only when it did not exit cleanly on SIGTERM. */
export function serverLogOf(log: ServerLog, s: Shutdown): { events: Record<string, number>; tail?: string[] } {
  return { events: log.events, ...(s.code !== 0 && !(s.code === null && s.signal === 'SIGTERM') ? { tail: log.tail } : {}) };
}

export function stoppedLine(s: Shutdown, fmtS: (ms: number) => string): string {
  return `stopped: ${s.killed ? 'had to be SIGKILLed' : `exit ${s.code ?? s.signal ?? ''}`} after ${fmtS(s.ms)}`;
}
