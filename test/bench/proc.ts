import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import type { Readable } from 'node:stream';

// Process plumbing for benchmarks: free ports, file-descriptor limits, /proc readings (RSS, CPU time),
// bounded waits, and a description of the machine to print next to every figure.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Epoch milliseconds with sub-millisecond resolution; comparable between processes on one machine. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** A port that was free a moment ago on 127.0.0.1. Whoever binds it must still handle EADDRINUSE. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export interface FdLimits {
  soft: number;
  hard: number;
}

/** This process's RLIMIT_NOFILE, from /proc/self/limits (Node has no getrlimit). */
export function fdLimits(): FdLimits {
  const text = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  const num = (s: string | undefined): number => (s === undefined || s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

/** Whether a child started through `bash -c 'ulimit -n N && exec …'` would get N open files. */
export function canRaiseFdLimit(n: number): boolean {
  const r = spawnSync('bash', ['-c', `ulimit -n ${n}`], { stdio: 'ignore' });
  return r.status === 0;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Raise the child's soft RLIMIT_NOFILE to this (via bash `ulimit -n`) when the current one is lower. */
  fdLimit?: number;
  ipc?: boolean;
  /** IPC message encoding; `advanced` (structured clone) carries typed arrays. Default `json`. */
  serialization?: 'json' | 'advanced';
}

/**
 * Spawns `cmd args` directly, or through `bash -c 'ulimit -n N && exec "$0" "$@"'` when the open-file
 * limit must be raised. `exec` keeps the pid, so the returned pid is the program's own (for /proc).
 */
export function spawnChild(cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  const stdio: StdioOptions = opts.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  const base = {
    env: opts.env,
    stdio,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.serialization !== undefined ? { serialization: opts.serialization } : {}),
  };
  if (opts.fdLimit !== undefined && fdLimits().soft < opts.fdLimit) {
    return spawn('bash', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, cmd, ...args], base);
  }
  return spawn(cmd, args as string[], base);
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<ExitInfo> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
}

/** Sends `signal`, waits up to `ms` for the exit, then SIGKILLs. `killed` says whether SIGKILL was needed. */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  ms: number,
): Promise<ExitInfo & { killed: boolean; elapsedMs: number }> {
  const start = performance.now();
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const result = await Promise.race([exited(child), sleep(ms).then(() => undefined)]);
  if (result !== undefined) return { ...result, killed: false, elapsedMs: performance.now() - start };
  child.kill('SIGKILL');
  const after = await exited(child);
  return { ...after, killed: true, elapsedMs: performance.now() - start };
}

export interface MemoryReading {
  /** Resident set size now, bytes. */
  rss: number;
  /** The kernel's high-water mark of the resident set since the process started (VmHWM), bytes. */
  hwm: number;
}

export function memoryOf(pid: number): MemoryReading | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

let clockTicks: number | undefined;

function ticksToMs(ticks: number): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(r.stdout.trim()) || 100;
  }
  return (ticks * 1000) / clockTicks;
}

/** Command name and user + system CPU ticks from a /proc/.../stat line. */
function parseStat(text: string): { comm: string; ticks: number } {
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return { comm: text.slice(text.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** User + system CPU time the process has used (all its threads), milliseconds (from /proc/<pid>/stat). */
export function cpuTimeOf(pid: number): number | undefined {
  try {
    return ticksToMs(parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).ticks);
  } catch {
    return undefined;
  }
}

/**
 * CPU time per thread group, milliseconds: `main` for the thread whose id is the pid (Node's event loop),
 * the others by their name with trailing digits dropped (`libuv-worker`, `V8 DefaultWorke`, ...).
 */
export function threadCpuOf(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const { comm, ticks } = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      const key = tid === String(pid) ? 'main' : comm.replace(/[\d-]*$/, '').trim() || comm;
      out[key] = (out[key] ?? 0) + ticksToMs(ticks);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

export interface MachineCpu {
  /** All CPUs together, ms: busy = user+nice+system+irq+softirq+steal, idle = idle+iowait, steal = taken by the hypervisor. */
  busy: number;
  idle: number;
  steal: number;
}

/** Cumulative machine-wide CPU time from /proc/stat. Take two readings and subtract. */
export function machineCpu(): MachineCpu | undefined {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  } catch {
    return undefined;
  }
  if (line?.startsWith('cpu ') !== true) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: ticksToMs(user + nice + system + irq + softirq + steal), idle: ticksToMs(idle + iowait), steal: ticksToMs(steal) };
}

const TCP_COUNTERS = ['ListenOverflows', 'ListenDrops', 'SyncookiesSent', 'SyncookiesRecv', 'TCPReqQFullDoCookies', 'TCPReqQFullDrop'];

/**
 * Kernel TCP counters of this network namespace (cumulative): listen-queue overflows and SYN cookies from
 * /proc/net/netstat, retransmitted segments from /proc/net/snmp. Take two readings and subtract.
 */
export function tcpCounters(): Record<string, number> {
  const out: Record<string, number> = {};
  const read = (file: string, section: string, wanted: readonly string[] | undefined): void => {
    let lines: string[];
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch {
      return;
    }
    for (let i = 0; i + 1 < lines.length; i++) {
      const head = lines[i]?.split(' ') ?? [];
      const values = lines[i + 1]?.split(' ') ?? [];
      if (head[0] !== section || values[0] !== section) continue;
      head.forEach((name, j) => {
        if (j > 0 && (wanted === undefined || wanted.includes(name))) out[name] = Number(values[j]);
      });
      return;
    }
  };
  read('/proc/net/netstat', 'TcpExt:', TCP_COUNTERS);
  read('/proc/net/snmp', 'Tcp:', ['RetransSegs']);
  return out;
}

/** b − a per key (threads that ended in between are missing from b and are left out). */
export function cpuDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]));
}

/** Keeps the last lines a child wrote (for failure reports) and hands every line to `onLine`. */
export class LineTap {
  private readonly tail: string[] = [];
  private partial = '';
  lines = 0;

  constructor(
    stream: Readable | null,
    private readonly keep = 40,
    private readonly onLine?: (line: string) => void,
  ) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) this.push(line);
    });
  }

  private push(line: string): void {
    this.lines += 1;
    this.tail.push(line);
    if (this.tail.length > this.keep) this.tail.shift();
    this.onLine?.(line);
  }

  last(): string[] {
    return this.partial === '' ? [...this.tail] : [...this.tail, this.partial];
  }
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? NaN;
}

/** p50, p90, p99 and the maximum of an ascending array (NaN when empty). */
export function quantiles(sorted: readonly number[]): { p50: number; p90: number; p99: number; max: number } {
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memTotalGiB: number;
  node: string;
  kernel: string;
  fdLimit: FdLimits;
  date: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    // not Linux: keep os.cpus()'s answer
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    memTotalGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    fdLimit: fdLimits(),
    date: new Date().toISOString(),
  };
}

/** Debian's mosquitto and mosquitto_passwd, or undefined when either is missing. */
export function findMosquitto(): string | undefined {
  const bin = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
  const passwd = spawnSync('mosquitto_passwd', ['-h'], { stdio: 'ignore' });
  return bin !== undefined && passwd.error === undefined ? bin : undefined;
}

/** The environment of a child, without any TRYGGHEIM_* setting of the caller leaking into it. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRYGGHEIM_')));
}

/** Counts a gateway JSON log line by its `event` (and `reason`), e.g. `ingest.dead_letter{reason=malformed}`. */
export function countEvent(events: Record<string, number>, line: string): void {
  if (!line.startsWith('{')) return;
  try {
    const rec = JSON.parse(line) as { event?: unknown; reason?: unknown };
    if (typeof rec.event !== 'string') return;
    const key = typeof rec.reason === 'string' ? `${rec.event}{reason=${rec.reason}}` : rec.event;
    events[key] = (events[key] ?? 0) + 1;
  } catch {
    // not a log record
  }
}

/** The HTTP status of a GET, or 0 when there was no answer within 2 s. */
export async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}
