#!/usr/bin/env node
import { readFileSync } from 'node:fs';

// Where a Node process spent its time, from a V8 `.cpuprofile` (node --cpu-prof): self time by component
// (our folders, each dependency, node core, GC) and the inclusive time of the gateway's ingest stages. A
// native call (a SQLite statement, an fsync, JSON.parse) has no script URL of its own; its time is given to
// the nearest caller that has one, so a commit's fsync counts as `better-sqlite3` under the journal's flush.
//
// The profiler samples wall-clock time on the main thread, so a blocking syscall (fsync) shows up as samples
// in the frame that made it. Timestamps are CLOCK_MONOTONIC microseconds (the same clock as
// process.hrtime() in any process of the machine), so a window measured elsewhere can be cut out exactly.
//
//   node dist/test/bench/cpuprofile.js <file.cpuprofile> [fromUs toUs]

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface StageSpec {
  label: string;
  /** The frame that starts the stage (its inclusive time is counted once, at the outermost match). */
  match: (f: CallFrame) => boolean;
  /** Only when some ancestor matches this too (e.g. decode called from the rules pass). */
  within?: (f: CallFrame) => boolean;
  /** Only when the direct caller matches this (e.g. a safeParse made by decodeEntry itself, not by the adapter). */
  calledBy?: (f: CallFrame) => boolean;
}

export interface ProfileSummary {
  /** The window actually summarised, CLOCK_MONOTONIC µs. */
  fromUs: number;
  toUs: number;
  wallMs: number;
  /** Wall time the main thread was not idle (all samples except `(idle)`), ms. */
  busyMs: number;
  /** Self time by component, ms (includes `idle`, `gc`, `program`). */
  components: Record<string, number>;
  /** Inclusive time of each stage, ms. */
  stages: Record<string, number>;
  /** The functions with the most self time (native time given to the caller), ms. */
  topSelf: { fn: string; where: string; ms: number }[];
}

const GATEWAY_DIRS: [RegExp, string][] = [
  [/\/dist\/gateway\/ingest\//, 'gateway/ingest'],
  [/\/dist\/gateway\/storage\//, 'gateway/storage'],
  [/\/dist\/gateway\/devices\//, 'gateway/devices (registry)'],
  [/\/dist\/gateway\//, 'gateway (other)'],
  [/\/dist\/broker\//, 'broker'],
  [/\/dist\/adapters\//, 'adapters'],
];

/** The component a script URL belongs to: our folder, the npm package, or node core. */
export function componentOf(url: string): string | undefined {
  if (url === '') return undefined;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm?.[1]) {
    const pkg = nm[1];
    if (pkg.startsWith('aedes')) return 'aedes';
    if (pkg === 'classic-level' || pkg === 'abstract-level' || pkg === 'level' || pkg.startsWith('level-')) return 'leveldb';
    return pkg;
  }
  for (const [re, name] of GATEWAY_DIRS) if (re.test(url)) return name;
  if (url.startsWith('node:')) return 'node core';
  return 'other';
}

const SPECIAL: Readonly<Record<string, string>> = {
  '(garbage collector)': 'gc',
  '(idle)': 'idle',
  '(program)': 'program (native, unattributed)',
  '(root)': 'root',
};

const inFile = (file: string, fn?: string) => (f: CallFrame) => f.url.endsWith(file) && (fn === undefined || f.functionName === fn);

/** The gateway's ingest stages (docs/adr/006): what the lead asked to see separately. */
export const GATEWAY_STAGES: StageSpec[] = [
  { label: 'journal group commit (journal.js flush: INSERTs + COMMIT + fsync)', match: inFile('/gateway/ingest/journal.js', 'flush') },
  { label: 'rules pass (runRules: read, decode, bus, setPriority, setCursor)', match: inFile('/gateway/ingest/pipeline.js', 'runRules') },
  {
    label: '  decode in rules pass',
    match: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
    within: inFile('/gateway/ingest/pipeline.js', 'runRules'),
  },
  {
    label: '  journal.setPriority (rules pass)',
    match: inFile('/gateway/ingest/journal.js', 'setPriority'),
    within: inFile('/gateway/ingest/pipeline.js', 'runRules'),
  },
  {
    label: '  journal.readAfter (rules pass)',
    match: inFile('/gateway/ingest/journal.js', 'readAfter'),
    within: inFile('/gateway/ingest/pipeline.js', 'runRules'),
  },
  {
    label: '  bus emit (events listeners)',
    match: (f) => f.functionName === 'emit',
    within: inFile('/gateway/ingest/pipeline.js', 'runRules'),
  },
  { label: 'storage pass batch (nextBatch: read, decode again, toLine)', match: inFile('/gateway/ingest/pipeline.js', 'nextBatch') },
  {
    label: '  decode in storage pass',
    match: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
    within: inFile('/gateway/ingest/pipeline.js', 'nextBatch'),
  },
  { label: '  toLine (line building)', match: inFile('/gateway/storage/line-protocol.js', 'toLine') },
  {
    label: '  journal.readAfter (storage pass)',
    match: inFile('/gateway/ingest/journal.js', 'readAfter'),
    within: inFile('/gateway/ingest/pipeline.js', 'nextBatch'),
  },
  { label: 'decodeEntry, both passes', match: inFile('/gateway/ingest/decode.js', 'decodeEntry') },
  {
    label: '  adapter decode (JSON.parse + zod, tryggheim.js)',
    match: inFile('/adapters/tryggheim.js', 'decode'),
    within: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
  },
  { label: '  contract ok(): builds z.array(DecodedEventSchema).min(1) per call', match: inFile('/adapters/contract.js', 'ok') },
  {
    label: '  CanonicalEventSchema.safeParse (envelope check)',
    match: (f) => f.functionName === 'safeParse',
    calledBy: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
  },
  {
    label: '  registry look-ups (adapterOf, homeAt)',
    match: (f) => f.url.includes('/dist/gateway/devices/'),
    within: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
  },
  {
    label: '    adapterOf = registry.getDevice (3 SQLite queries)',
    match: (f) => f.functionName === 'adapterOf',
    within: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
  },
  {
    label: '    homeAt (1 query)',
    match: (f) => f.functionName === 'homeAt' && f.url.endsWith('/gateway/main.js'),
    within: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
  },
  {
    label: '  sha256 (payload hash + event id)',
    match: (f) =>
      f.functionName === 'createHash' || f.functionName === 'digest' || f.functionName === 'update' || f.functionName === 'eventId',
    within: inFile('/gateway/ingest/decode.js', 'decodeEntry'),
  },
  { label: 'zod, anywhere', match: (f) => f.url.includes('/node_modules/zod/') },
  { label: 'InfluxDB write (influx.js write → client → http)', match: inFile('/gateway/storage/influx.js', 'send') },
  { label: 'journal.remove after confirm (DELETE, own commit + fsync)', match: inFile('/gateway/ingest/journal.js', 'remove') },
  { label: 'broker authorizePublish → accept (hooks.js)', match: inFile('/broker/hooks.js', 'authorizePublish') },
  { label: 'aedes, anywhere', match: (f) => f.url.includes('/node_modules/aedes') },
  { label: 'mqtt-packet, anywhere', match: (f) => f.url.includes('/node_modules/mqtt-packet/') },
  { label: 'prom-client / metrics scrape', match: (f) => f.url.includes('/node_modules/prom-client/') },
];

export function summarizeProfile(
  profile: CpuProfile,
  opts: { fromUs?: number; toUs?: number; stages?: StageSpec[]; top?: number } = {},
): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const fromUs = Math.max(opts.fromUs ?? profile.startTime, profile.startTime);
  const toUs = Math.min(opts.toUs ?? profile.endTime, profile.endTime);
  // Time per node: each sample stands for the interval up to the next sample.
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const next = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t >= toUs) continue;
    const id = profile.samples[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + next);
  }

  // Component of a node: its own URL's, else its nearest ancestor's (native code is charged to its caller).
  const componentCache = new Map<number, string>();
  const componentOfNode = (id: number): string => {
    const cached = componentCache.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id);
    let c: string;
    if (n === undefined) c = 'unknown';
    else {
      const special = SPECIAL[n.callFrame.functionName];
      const own = componentOf(n.callFrame.url);
      const p = parent.get(id);
      c = special ?? own ?? (p === undefined ? 'native (no caller)' : componentOfNode(p));
      if (special === undefined && own === undefined && c === 'root') c = 'native (no caller)';
    }
    componentCache.set(id, c);
    return c;
  };

  const components: Record<string, number> = {};
  const fnSelf = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const c = componentOfNode(id);
    components[c] = (components[c] ?? 0) + us / 1000;
    total += us;
    if (c === 'idle') idle += us;
    // Native frames are charged to the nearest caller with a script.
    let k = id;
    let n = byId.get(k);
    while (n && n.callFrame.url === '' && SPECIAL[n.callFrame.functionName] === undefined && parent.get(k) !== undefined) {
      k = parent.get(k) ?? k;
      n = byId.get(k);
    }
    const key = n
      ? `${n.callFrame.functionName || '(anonymous)'}\u0000${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
      : 'unknown';
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us / 1000);
  }

  // Inclusive stage times: subtree totals at the outermost matching node.
  const stages: Record<string, number> = {};
  const specs = opts.stages ?? GATEWAY_STAGES;
  const subtree = new Map<number, number>();
  const subtreeOf = (id: number): number => {
    const cached = subtree.get(id);
    if (cached !== undefined) return cached;
    let sum = selfUs.get(id) ?? 0;
    for (const c of byId.get(id)?.children ?? []) sum += subtreeOf(c);
    subtree.set(id, sum);
    return sum;
  };
  const root = profile.nodes.find((n) => !parent.has(n.id));
  for (const spec of specs) {
    let us = 0;
    const walk = (id: number, withinOk: boolean, caller: CallFrame | undefined): void => {
      const n = byId.get(id);
      if (!n) return;
      const ok = withinOk || (spec.within?.(n.callFrame) ?? false);
      const callerOk = spec.calledBy === undefined || (caller !== undefined && spec.calledBy(caller));
      if ((spec.within === undefined || withinOk) && callerOk && spec.match(n.callFrame)) {
        us += subtreeOf(id);
        return;
      }
      for (const c of n.children ?? []) walk(c, ok, n.callFrame);
    };
    if (root) walk(root.id, false, undefined);
    stages[spec.label] = us / 1000;
  }

  const topSelf = [...fnSelf.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, opts.top ?? 25)
    .map(([k, ms]) => {
      const [fn = '', where = ''] = k.split('\u0000');
      return { fn, where, ms };
    });
  return { fromUs, toUs, wallMs: (toUs - fromUs) / 1000, busyMs: (total - idle) / 1000, components, stages, topSelf };
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.replace(/^file:\/\//, '');
}

export function formatSummary(s: ProfileSummary): string[] {
  const lines: string[] = [];
  const pct = (ms: number, of: number): string => (of > 0 ? `${((ms / of) * 100).toFixed(1)} %` : '–');
  lines.push(
    `profile window ${(s.wallMs / 1000).toFixed(1)} s, main thread busy ${(s.busyMs / 1000).toFixed(1)} s (${pct(s.busyMs, s.wallMs)} of wall time)`,
  );
  lines.push('self time by component (native calls charged to their caller), share of busy time:');
  for (const [k, ms] of Object.entries(s.components).sort((a, b) => b[1] - a[1])) {
    if (k === 'idle' || ms < s.busyMs * 0.002) continue;
    lines.push(`  ${k.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${pct(ms, s.busyMs).padStart(7)}`);
  }
  lines.push('inclusive time of gateway stages, share of busy time:');
  for (const [k, ms] of Object.entries(s.stages)) {
    lines.push(`  ${k.padEnd(72)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${pct(ms, s.busyMs).padStart(7)}`);
  }
  lines.push('top functions by self time:');
  for (const f of s.topSelf)
    lines.push(`  ${(f.ms / 1000).toFixed(2).padStart(7)} s  ${pct(f.ms, s.busyMs).padStart(7)}  ${f.fn} (${f.where})`);
  return lines;
}

const invokedAs = process.argv[1] ?? '';
if (invokedAs.endsWith('/bench/cpuprofile.js')) {
  const [file, from, to] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: node dist/test/bench/cpuprofile.js <file.cpuprofile> [fromUs toUs]\n');
    process.exit(64);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const summary = summarizeProfile(profile, {
    ...(from !== undefined ? { fromUs: Number(from) } : {}),
    ...(to !== undefined ? { toUs: Number(to) } : {}),
  });
  process.stdout.write(`${formatSummary(summary).join('\n')}\n`);
}
