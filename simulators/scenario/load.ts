// Scenario loading: text → shape check (schema.ts) → everything that needs the whole file (time zone, start,
// formats per device kind, incident homes and times) → a `Scenario` with epoch times. All problems of a file
// are reported together, each with its line and field path.
import { readFileSync } from 'node:fs';
import type { Incident } from '../types.js';
import { parseSource, parseWith, ScenarioError, sortProblems, type FieldPath, type Problem } from './errors.js';
import { expandFleet, homeIdFor, homesOf, KIND_FORMATS, mixEntries } from './fleet.js';
import { inventories, randomIncidents, resolveIncident, type IncidentContext } from './incidents.js';
import { hash32 } from './random.js';
import { ScenarioFileSchema, type DevicesFile, type FleetFile } from './schema.js';
import { fromLocal, isTimeZone, LOCAL_TIME_RE, parseDuration } from './time.js';

export interface Scenario {
  readonly fileName: string;
  readonly name: string;
  readonly description: string;
  /** uint32; a string seed in the file is hashed to one. */
  readonly seed: number;
  readonly timeZone: string;
  /** Epoch ms. */
  readonly start: number;
  readonly end: number;
  readonly speed: number | 'max';
  readonly fleet: FleetFile;
  /** Home ids in fleet order (`h001` …). */
  readonly homes: readonly string[];
  /** Scripted and random incidents, in time order. */
  readonly incidents: readonly Incident[];
}

export interface ParseOptions {
  /** What `start: now` means (default Date.now()): injected, so tests are deterministic. */
  readonly now?: number;
  /**
   * Run the scenario from this instant instead of the file's `start` (the demo starts a district's day now).
   * Incidents at local times fall on their first occurrence from it; random incidents spread over the span.
   */
  readonly start?: number;
}

const ISO_ABSOLUTE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

function parseStart(start: string | { date: string; time: string }, timeZone: string, now: number): number | string {
  if (start === 'now') return now;
  const text = typeof start === 'string' ? start : `${start.date}T${start.time}`;
  if (ISO_ABSOLUTE.test(text)) {
    const t = Date.parse(text);
    return Number.isNaN(t) ? 'not a valid date-time' : t;
  }
  const m = ISO_LOCAL.exec(text);
  if (!m) return 'expected an ISO date-time (2026-03-10T06:00, with Z or an offset for absolute time), { date, time }, or now';
  const [year, month, day, hour, minute, second] = m.slice(1).map((x: string | undefined) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59)
    return `not a valid date-time: ${text}`;
  return fromLocal({ year, month, day, hour, minute, second }, timeZone);
}

/** Formats must suit their device kind; checked here so the message can point at the offending entry. */
function checkDevices(devices: DevicesFile, path: FieldPath, problem: (p: FieldPath, m: string) => Problem): Problem[] {
  const out: Problem[] = [];
  const groups = [
    ['dispenser', devices.dispenser?.formats],
    ['lock', devices.lock?.formats],
    ['sensor', devices.sensors?.formats],
    ['vitals', devices.vitals?.formats],
  ] as const;
  for (const [kind, mix] of groups) {
    if (mix === undefined) continue;
    const at: FieldPath = [...path, kind === 'sensor' ? 'sensors' : kind, 'formats'];
    const allowed: readonly string[] = KIND_FORMATS[kind];
    const entries = mixEntries(mix);
    if (entries.length === 0) out.push(problem(at, 'needs at least one format with a weight above 0'));
    for (const [format] of entries) {
      if (!allowed.includes(format)) {
        out.push(
          problem(typeof mix === 'string' ? at : [...at, format], `a ${kind} cannot use ${format} (allowed: ${allowed.join(', ')})`),
        );
      }
    }
  }
  return out;
}

function homeResolver(fleet: FleetFile, homes: readonly string[]): (ref: string | number) => string | undefined {
  const known = new Set(homes);
  return (ref) => {
    if (typeof ref === 'string' && known.has(ref)) return ref;
    if (typeof fleet.homes !== 'number') return undefined;
    const digits = typeof ref === 'number' ? String(ref) : ref.startsWith(fleet.idPrefix) ? ref.slice(fleet.idPrefix.length) : '';
    const n = /^\d+$/.test(digits) ? Number(digits) : NaN;
    return n >= 1 && n <= fleet.homes ? homeIdFor(fleet.idPrefix, n, fleet.homes) : undefined;
  };
}

/** Parses a scenario (YAML or JSON text). Throws ScenarioError listing every problem with file:line field. */
export function parseScenario(text: string, fileName: string, options: ParseOptions = {}): Scenario {
  const source = parseSource(text, fileName);
  const file = parseWith(source, ScenarioFileSchema);
  const problems: Problem[] = [];
  const problem = source.problem;

  if (!isTimeZone(file.timeZone)) problems.push(problem(['timeZone'], `unknown IANA time zone ${JSON.stringify(file.timeZone)}`));
  const timeZone = problems.length === 0 ? file.timeZone : 'UTC';
  const start = options.start ?? parseStart(file.start, timeZone, options.now ?? Date.now());
  if (typeof start === 'string') problems.push(problem(['start'], start));
  const durationMs = parseDuration(file.duration) ?? 0;
  if (durationMs <= 0) problems.push(problem(['duration'], 'must be longer than 0s'));
  if (typeof file.start === 'string' && LOCAL_TIME_RE.test(file.start))
    problems.push(problem(['start'], 'needs a date too (2026-03-10T06:00)'));

  problems.push(...checkDevices(file.fleet.devices, ['fleet', 'devices'], problem));
  if (typeof file.fleet.homes !== 'number') {
    const seen = new Set<string>();
    file.fleet.homes.forEach((h, i) => {
      const id = typeof h === 'string' ? h : h.id;
      if (seen.has(id)) problems.push(problem(['fleet', 'homes', i], `home ${id} is listed twice`));
      seen.add(id);
      if (typeof h !== 'string') problems.push(...checkDevices(h.devices, ['fleet', 'homes', i, 'devices'], problem));
    });
  }
  if (problems.length > 0 || typeof start === 'string') throw new ScenarioError(fileName, sortProblems(problems));

  const seed = typeof file.seed === 'number' ? file.seed >>> 0 : hash32(file.seed);
  const homes = homesOf(file.fleet).map((h) => h.id);
  const fleet = expandFleet({ seed, fleet: file.fleet });
  const end = start + durationMs;
  const ctx: IncidentContext = {
    start,
    end,
    timeZone,
    inventory: inventories(fleet),
    resolveHome: homeResolver(file.fleet, homes),
    problem,
  };
  const incidents: Incident[] = [];
  file.incidents.forEach((f, i) => {
    const inc = resolveIncident(f, ['incidents', i], ctx, problems);
    if (inc !== undefined) incidents.push(inc);
  });
  if (file.randomIncidents !== undefined)
    incidents.push(...randomIncidents(file.randomIncidents, seed, ctx, homes, ['randomIncidents'], problems));
  if (problems.length > 0) throw new ScenarioError(fileName, sortProblems(problems));

  incidents.sort((a, b) => a.at - b.at || (a.home < b.home ? -1 : a.home > b.home ? 1 : 0));
  return {
    fileName,
    name: file.name,
    description: file.description,
    seed,
    timeZone,
    start,
    end,
    speed: file.speed,
    fleet: file.fleet,
    homes,
    incidents,
  };
}

/** Reads and parses a scenario file; I/O failures become a ScenarioError naming the file, with the cause. */
export function loadScenario(path: string, options: ParseOptions = {}): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ScenarioError(
      path,
      [{ path: '', message: `cannot read the file (${(cause as NodeJS.ErrnoException).code ?? String(cause)})` }],
      { cause },
    );
  }
  return parseScenario(text, path, options);
}
