// Errors a person can act on: every problem in a scenario or transcript file names the file, the line and the
// field path (`normal-day.yaml:14 fleet.homes: expected a number`), and all problems are listed at once, so a
// technician fixes the file in one pass instead of one error per run.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';

export type FieldPath = readonly PropertyKey[];

export interface Problem {
  readonly line?: number;
  readonly path: string;
  readonly message: string;
}

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly fileName: string,
    readonly problems: readonly Problem[],
    options?: { cause?: unknown },
  ) {
    super(
      `${fileName}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems
          .map((p) => `  ${fileName}${p.line === undefined ? '' : `:${p.line}`} ${p.path ? `${p.path}: ` : ''}${p.message}`)
          .join('\n'),
      options,
    );
  }
}

export const formatPath = (path: FieldPath): string =>
  path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');

/** A parsed YAML (or JSON: YAML 1.2 is a superset) file that can say which line a field path is on. */
export interface SourceFile {
  readonly fileName: string;
  readonly data: unknown;
  readonly lineOf: (path: FieldPath) => number | undefined;
  readonly problem: (path: FieldPath, message: string) => Problem;
}

export function parseSource(text: string, fileName: string): SourceFile {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0) {
    throw new ScenarioError(
      fileName,
      syntax.map((e) => ({ line: lineCounter.linePos(e.pos[0]).line, path: '', message: e.message.split('\n')[0] ?? e.code })),
    );
  }
  const lineAt = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  // The deepest node the path reaches: a missing field is reported on the line of the object that lacks it,
  // a field of a block map on the line of its key (its value starts on the next line).
  const lineOf = (path: FieldPath): number | undefined => {
    let node: unknown = doc.contents;
    let line = lineAt(doc.contents?.range?.[0]);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        line = lineAt((pair.key as Node).range?.[0]) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (item === undefined) break;
        line = lineAt(item.range?.[0]) ?? line;
        node = item;
      } else break;
    }
    return line;
  };
  return {
    fileName,
    data: doc.toJS({ maxAliasCount: 100 }) as unknown,
    lineOf,
    problem: (path, message) => ({ line: lineOf(path), path: formatPath(path), message }),
  };
}

const article = (t: string): string =>
  ({ number: 'a number', int: 'an integer', string: 'a string', array: 'a list', object: 'a mapping', boolean: 'true or false' })[t] ?? t;

const show = (v: unknown): string =>
  typeof v === 'string'
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? 'a list'
      : v === null
        ? 'null'
        : typeof v === 'number' || typeof v === 'boolean'
          ? String(v)
          : 'a mapping';

/** zod issues → problems with plain-language messages (zod's defaults say "Invalid input"). */
export function issueProblems(source: SourceFile, issues: readonly z.core.$ZodIssue[], prefix: FieldPath = []): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'invalid_type':
        out.push(
          source.problem(path, issue.input === undefined ? 'is required' : `expected ${article(issue.expected)}, got ${show(issue.input)}`),
        );
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push(source.problem([...path, key], 'unknown field (check the spelling)'));
        break;
      case 'invalid_value':
        out.push(source.problem(path, `expected ${issue.values.map((v) => show(v)).join(' | ')}, got ${show(issue.input)}`));
        break;
      case 'invalid_union': {
        // The branch that failed deeper than "wrong type here" is the one the author meant: report its problems.
        const meant = issue.errors.filter((branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0));
        if (meant.length === 1 && meant[0] !== undefined) out.push(...issueProblems(source, meant[0], path));
        else {
          const expected = issue.errors.flatMap((b) =>
            b.flatMap((i) => (i.code === 'invalid_type' && i.path.length === 0 ? [article(i.expected)] : [])),
          );
          out.push(
            source.problem(
              path,
              issue.input === undefined
                ? 'is required'
                : `expected ${[...new Set(expected)].join(' or ') || 'another value'}, got ${show(issue.input)}`,
            ),
          );
        }
        break;
      }
      default:
        out.push(source.problem(path, issue.message));
    }
  }
  return out;
}

/** Parse with a schema; every problem (with its line) in one ScenarioError. */
export function parseWith<S extends z.ZodType>(source: SourceFile, schema: S): z.output<S> {
  const r = schema.safeParse(source.data, { reportInput: true });
  if (r.success) return r.data;
  throw new ScenarioError(source.fileName, sortProblems(issueProblems(source, r.error.issues)));
}

export const sortProblems = (ps: Problem[]): Problem[] => ps.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
