import { CareError, describeIssue, VisitInputSchema } from './inputs.js';
import type { PlannedVisit } from './model.js';

/*
 * Planned visits come from the municipality's scheduling system as CSV (`from,to` with a header line) or JSON
 * (`[{"from": …, "to": …}]`). Parsing is pure and all-or-nothing: a file with a mistake is refused whole, with
 * `file:line field: message`, so a technician fixes the export instead of wondering which rows went in. Other
 * CSV columns (an export may carry notes or names) are ignored and never stored.
 */

export type VisitsFormat = 'csv' | 'json';

/** Far above a year of visits for one home; a bigger file is a wrong file. */
export const MAX_VISITS_PER_IMPORT = 10_000;
// How many problems one error message lists before "… and N more".
const SHOWN_PROBLEMS = 3;

interface Problem {
  line: number | undefined;
  field: string;
  message: string;
}

export function formatOf(fileName: string): VisitsFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.json')) return 'json';
  return undefined;
}

/** Parses and validates a visit file; from/to come back as UTC instants (`Date#toISOString`). */
export function parseVisits(text: string, format: VisitsFormat, source: string): PlannedVisit[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return format === 'csv' ? parseCsv(body, source) : parseJson(body, source);
}

function parseCsv(text: string, source: string): PlannedVisit[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  const fromCol = header.indexOf('from');
  const toCol = header.indexOf('to');
  if (fromCol < 0 || toCol < 0) {
    fail(source, [
      { line: 1, field: 'header', message: `expected the columns from,to (got ${JSON.stringify((lines[0] ?? '').slice(0, 80))})` },
    ]);
  }
  const rows: { line: number; value: unknown }[] = [];
  lines.forEach((raw, i) => {
    if (i === 0 || raw.trim() === '') return;
    const cells = splitCsvLine(raw);
    rows.push({ line: i + 1, value: { from: cells[fromCol]?.trim(), to: cells[toCol]?.trim() } });
  });
  return validate(rows, source, '');
}

function parseJson(text: string, source: string): PlannedVisit[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new CareError('TRY_ERR_VISITS_IMPORT', `${at(source, syntaxErrorLine(text, message))} not valid JSON: ${message}`, { cause });
  }
  if (!Array.isArray(data)) {
    fail(source, [{ line: 1, field: '', message: 'expected a JSON array of {"from": …, "to": …} objects' }]);
  }
  const starts = elementLines(text);
  return validate(
    data.map((value: unknown, i) => ({ line: starts[i], value })),
    source,
    'index',
  );
}

function validate(rows: readonly { line: number | undefined; value: unknown }[], source: string, naming: '' | 'index'): PlannedVisit[] {
  if (rows.length > MAX_VISITS_PER_IMPORT) {
    fail(source, [{ line: undefined, field: '', message: `${rows.length} visits; at most ${MAX_VISITS_PER_IMPORT} per import` }]);
  }
  const problems: Problem[] = [];
  const visits: PlannedVisit[] = [];
  rows.forEach(({ line, value }, i) => {
    const field = naming === 'index' ? `[${i}]` : '';
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push({ line, field, message: 'expected an object {"from": …, "to": …}' });
      return;
    }
    const result = VisitInputSchema.safeParse(value);
    if (result.success) {
      visits.push({ from: new Date(result.data.from).toISOString(), to: new Date(result.data.to).toISOString() });
      return;
    }
    const issue = describeIssue(result.error, value);
    problems.push({ line, field: [field, issue.field].filter((f) => f !== '').join('.'), message: issue.message });
  });
  if (problems.length > 0) fail(source, problems);
  return visits;
}

function fail(source: string, problems: readonly Problem[]): never {
  const shown = problems
    .slice(0, SHOWN_PROBLEMS)
    .map((p) => [at(source, p.line), p.field === '' ? '' : `${p.field}:`, p.message].filter((s) => s !== '').join(' '));
  const more = problems.length > SHOWN_PROBLEMS ? `; … and ${problems.length - SHOWN_PROBLEMS} more` : '';
  throw new CareError('TRY_ERR_VISITS_IMPORT', `${shown.join('; ')}${more}`);
}

function at(source: string, line: number | undefined): string {
  return line === undefined ? source : `${source}:${line}`;
}

/** One CSV line into cells: commas separate, double quotes group, `""` is a quote (RFC 4180, one line). */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quoted) {
      if (c === '"' && line.charAt(i + 1) === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

/** The 1-based line on which each element of a top-level JSON array starts (the text is known to be valid JSON). */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 1 && expectElement && c !== undefined && !/\s/.test(c) && c !== ']') {
      lines.push(line);
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return lines;
}

/** JSON.parse says "at position N" (Node 20) or "(line L column C)" (Node 22+); either way, name the line. */
function syntaxErrorLine(text: string, message: string): number | undefined {
  const byLine = /line (\d+) column \d+/.exec(message);
  if (byLine) return Number(byLine[1]);
  const byPosition = /at position (\d+)/.exec(message);
  if (byPosition) return text.slice(0, Number(byPosition[1])).split('\n').length;
  return undefined;
}
