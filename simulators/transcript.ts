// Expected-alert transcripts (issue 4 item 5): for a shipped scenario, the alerts that must follow its
// incidents — which rule, in which home, how soon — and a pure comparison against the alerts the gateway
// actually raised. The alert engine (issue 5) supplies the actual alerts; this file knows nothing of it.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseSource, parseWith, ScenarioError, sortProblems, type Problem } from './scenario/errors.js';
import type { Scenario } from './scenario/load.js';
import { DurationSchema } from './scenario/schema.js';
import { formatDuration, parseDuration } from './scenario/time.js';
import type { IncidentType } from './types.js';

/** Alert rule names, as issue 5 names the rules (README "Scenario files" lists which incident raises which). */
export const ALERT_RULES = [
  'missed-dose',
  'dispenser-fault',
  'door-left-open',
  'door-night',
  'door-forced',
  'failed-attempts',
  'bed-exit-night',
  'fall',
  'panic',
  'smoke',
  'water-leak',
  'inactivity',
  'temperature',
  'vitals',
  'device-silent',
  'low-battery',
] as const;
export type AlertRule = (typeof ALERT_RULES)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;

export const TranscriptEntrySchema = z.strictObject({
  rule: z.enum(ALERT_RULES),
  /** Home id (`h007`), or its number in a counted fleet (`7`, `h7`), as in the scenario's incidents. */
  home: z.union([z.string().min(1), z.int().min(1)]),
  /** Only when it matters (e.g. which device went silent); omitted = any subject. */
  subject: z.string().min(1).optional(),
  severity: z.enum(SEVERITIES).optional(),
  /** Deadline: raised at most this long after the incident's time. */
  within: DurationSchema,
  /** Not raised before this long after the incident (a door-left-open alert must wait for its N minutes). */
  after: DurationSchema.optional(),
  /** Which incident (1-based, in the scenario's time order) the times count from; needed only when the home has several. */
  incident: z.int().min(1).optional(),
});
export const TranscriptSchema = z.array(TranscriptEntrySchema);
export type TranscriptEntry = z.infer<typeof TranscriptEntrySchema>;
export type Transcript = z.infer<typeof TranscriptSchema>;

/** An alert the gateway raised (issue 5's alert engine supplies these). */
export interface ActualAlert {
  readonly rule: string;
  readonly home: string;
  readonly subject?: string;
  readonly severity?: string;
  /** Epoch ms, on the clock the scenario ran on. */
  readonly raisedAt: number;
}

/** A transcript entry with its window resolved to epoch ms. */
export interface ExpectedAlert {
  readonly rule: AlertRule;
  readonly home: string;
  readonly subject?: string;
  readonly severity?: string;
  /** The incident's time and type: what the window counts from. */
  readonly incidentAt: number;
  readonly incidentType: IncidentType;
  readonly notBefore: number;
  readonly deadline: number;
}

/** Parses a transcript and anchors each entry on its scenario's incident. Problems name file:line field. */
export function parseTranscript(text: string, fileName: string, scenario: Scenario): ExpectedAlert[] {
  const source = parseSource(text, fileName);
  const entries = parseWith(source, TranscriptSchema);
  const problems: Problem[] = [];
  const out: ExpectedAlert[] = [];
  entries.forEach((e, i) => {
    const home = resolveHome(e.home, scenario);
    if (home === undefined) {
      problems.push(source.problem([i, 'home'], `no home ${JSON.stringify(e.home)} in the scenario's fleet`));
      return;
    }
    const inHome = scenario.incidents.filter((inc) => inc.home === home);
    const incident = e.incident === undefined ? (inHome.length === 1 ? inHome[0] : undefined) : scenario.incidents[e.incident - 1];
    if (incident === undefined) {
      const why =
        e.incident !== undefined
          ? `the scenario has ${scenario.incidents.length} incident(s), not ${e.incident}`
          : inHome.length === 0
            ? `the scenario has no incident in home ${home} to count from`
            : `home ${home} has ${inHome.length} incidents: say which with incident: <n>`;
      problems.push(source.problem([i, e.incident === undefined ? 'home' : 'incident'], why));
      return;
    }
    const after = parseDuration(e.after ?? '0s') ?? 0;
    const within = parseDuration(e.within) ?? 0;
    if (after > within) problems.push(source.problem([i, 'after'], `after (${e.after ?? ''}) is later than within (${e.within})`));
    out.push({
      rule: e.rule,
      home,
      ...(e.subject === undefined ? {} : { subject: e.subject }),
      ...(e.severity === undefined ? {} : { severity: e.severity }),
      incidentAt: incident.at,
      incidentType: incident.type,
      notBefore: incident.at + after,
      deadline: incident.at + within,
    });
  });
  if (problems.length > 0) throw new ScenarioError(fileName, sortProblems(problems));
  return out;
}

function resolveHome(ref: string | number, s: Scenario): string | undefined {
  if (typeof ref === 'string' && s.homes.includes(ref)) return ref;
  const { homes, idPrefix } = s.fleet;
  if (typeof homes !== 'number') return undefined;
  const digits = typeof ref === 'number' ? String(ref) : ref.startsWith(idPrefix) ? ref.slice(idPrefix.length) : '';
  const n = /^\d+$/.test(digits) ? Number(digits) : NaN;
  return n >= 1 && n <= homes ? s.homes[n - 1] : undefined;
}

/** `simulators/scenarios/fall.yaml` → `simulators/scenarios/fall.alerts.yaml`. */
export const transcriptPathFor = (scenarioPath: string): string => scenarioPath.replace(/\.(ya?ml|json)$/, '.alerts.yaml');

export function loadTranscript(path: string, scenario: Scenario): ExpectedAlert[] {
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
  return parseTranscript(text, path, scenario);
}

export interface TranscriptResult {
  readonly ok: boolean;
  readonly matched: readonly { readonly expected: ExpectedAlert; readonly actual: ActualAlert }[];
  readonly missing: readonly { readonly expected: ExpectedAlert; readonly reason: string }[];
  readonly unexpected: readonly ActualAlert[];
  /** One line per expectation and per unexpected alert, times as offsets from the scenario start. */
  readonly text: string;
}

const label = (a: { rule: string; home: string; subject?: string; severity?: string }): string =>
  `${a.rule} ${a.home}${a.subject === undefined ? '' : ` [${a.subject}]`}${a.severity === undefined ? '' : ` (${a.severity})`}`;

/**
 * Pure: which expectations were met (each by the earliest fitting alert, each alert used once), which were
 * not (and why: too early, too late, wrong severity or subject, or nothing at all), and which alerts nobody
 * expected. A second alert for the same thing is unexpected: that is a deduplication bug.
 */
export function compareTranscript(
  expected: readonly ExpectedAlert[],
  actual: readonly ActualAlert[],
  scenarioStart: number,
): TranscriptResult {
  const rel = (t: number): string => `+${formatDuration(t - scenarioStart)}`;
  const used = new Set<number>();
  const order = actual.map((a, i) => ({ a, i })).sort((x, y) => x.a.raisedAt - y.a.raisedAt || x.i - y.i);
  const matched: { expected: ExpectedAlert; actual: ActualAlert }[] = [];
  const missing: { expected: ExpectedAlert; reason: string }[] = [];
  const lines: string[] = [];

  for (const e of [...expected].sort((x, y) => x.deadline - y.deadline)) {
    const same = order.filter(({ a, i }) => !used.has(i) && a.rule === e.rule && a.home === e.home);
    const fits = same.filter(
      ({ a }) =>
        (e.subject === undefined || a.subject === e.subject) &&
        (e.severity === undefined || a.severity === e.severity) &&
        a.raisedAt >= e.notBefore &&
        a.raisedAt <= e.deadline,
    );
    const window = `${formatDuration(e.notBefore - e.incidentAt)}–${formatDuration(e.deadline - e.incidentAt)} after the ${e.incidentType} at ${rel(e.incidentAt)}`;
    const hit = fits[0];
    if (hit !== undefined) {
      used.add(hit.i);
      matched.push({ expected: e, actual: hit.a });
      lines.push(
        `ok       ${label(e)} raised at ${rel(hit.a.raisedAt)}, ${formatDuration(hit.a.raisedAt - e.incidentAt)} after the ${e.incidentType}`,
      );
      continue;
    }
    const near = same[0]?.a;
    const reason =
      near === undefined
        ? 'no such alert was raised'
        : near.raisedAt < e.notBefore
          ? `raised too early, at ${rel(near.raisedAt)} (${formatDuration(near.raisedAt - e.incidentAt)} after the incident)`
          : near.raisedAt > e.deadline
            ? `raised too late, at ${rel(near.raisedAt)} (${formatDuration(near.raisedAt - e.incidentAt)} after the incident)`
            : e.severity !== undefined && near.severity !== e.severity
              ? `raised at ${rel(near.raisedAt)} with severity ${near.severity ?? 'none'}`
              : `raised at ${rel(near.raisedAt)} for subject ${near.subject ?? 'none'}`;
    missing.push({ expected: e, reason });
    lines.push(`MISSING  ${label(e)} expected ${window}: ${reason}`);
  }
  const unexpected = order.filter(({ i }) => !used.has(i)).map(({ a }) => a);
  for (const a of unexpected) lines.push(`UNEXPECTED ${label(a)} raised at ${rel(a.raisedAt)}`);
  const ok = missing.length === 0 && unexpected.length === 0;
  const head = `${ok ? 'PASS' : 'FAIL'}: ${expected.length} expected, ${matched.length} matched, ${missing.length} missing, ${unexpected.length} unexpected`;
  return { ok, matched, missing, unexpected, text: [head, ...lines].join('\n') };
}
