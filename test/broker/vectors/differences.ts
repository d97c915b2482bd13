// The committed allow-list of known, explained differences between Tryggheim's broker and mosquitto on
// the packet-vector table (differences.json next to this file). Shape:
//   reasons: { <reason key>: <why this difference is expected/acceptable, in words> }
//   runs:    { <run name>: { <reason key>: { <vector id>: <observed signature> } } }
// The signature pins *what* the broker did (see compare.ts), so a changed answer is a new difference.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { DiffCategory } from './compare.js';

export const DIFFERENCES_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'differences.json');

const AllowListSchema = z.object({
  about: z.array(z.string()).optional(),
  reasons: z.record(z.string(), z.string().min(20)),
  runs: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.string()))),
});

export type AllowList = z.infer<typeof AllowListSchema>;

export interface ObservedDifference {
  id: string;
  category: DiffCategory;
  observed: string;
}

export interface AllowListCheck {
  /** Observed differences with no entry: must be investigated and explained (or fixed in the broker). */
  unexplained: ObservedDifference[];
  /** Entries whose vector now behaves differently than the allow-list recorded. */
  changed: { id: string; reason: string; allowed: string; observed: string }[];
  /** Entries for vectors that now behave exactly like mosquitto: remove them. */
  stale: { id: string; reason: string }[];
  /** Entries naming no vector of the table (typo, or the table changed). */
  unknown: { id: string; reason: string }[];
  /** Count of observed differences per reason key. */
  byReason: Map<string, number>;
}

export function loadAllowList(file = DIFFERENCES_FILE): AllowList {
  const list = AllowListSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  for (const [run, groups] of Object.entries(list.runs)) {
    for (const reason of Object.keys(groups)) {
      if (list.reasons[reason] === undefined)
        throw new Error(`${file}: run ${run} uses reason "${reason}" which has no explanation in "reasons"`);
    }
  }
  return list;
}

/**
 * `allIds`: every vector id of the table; `sameIds`: the vectors judged identical to mosquitto in this run.
 */
export function checkAgainstAllowList(
  list: AllowList,
  run: string,
  observed: readonly ObservedDifference[],
  allIds: ReadonlySet<string>,
  sameIds: ReadonlySet<string>,
): AllowListCheck {
  const allowed = new Map<string, { reason: string; observed: string }>();
  for (const [reason, entries] of Object.entries(list.runs[run] ?? {})) {
    for (const [id, sig] of Object.entries(entries)) allowed.set(id, { reason, observed: sig });
  }
  const result: AllowListCheck = { unexplained: [], changed: [], stale: [], unknown: [], byReason: new Map() };
  const seen = new Set<string>();
  for (const d of observed) {
    seen.add(d.id);
    const entry = allowed.get(d.id);
    if (!entry) {
      result.unexplained.push(d);
      continue;
    }
    result.byReason.set(entry.reason, (result.byReason.get(entry.reason) ?? 0) + 1);
    if (entry.observed !== d.observed)
      result.changed.push({ id: d.id, reason: entry.reason, allowed: entry.observed, observed: d.observed });
  }
  for (const [id, entry] of allowed) {
    if (!allIds.has(id)) result.unknown.push({ id, reason: entry.reason });
    // Only vectors judged "same" are stale; a vector that failed is reported as a failure instead.
    else if (!seen.has(id) && sameIds.has(id)) result.stale.push({ id, reason: entry.reason });
  }
  return result;
}

/**
 * Writes a draft allow-list for `run` (existing reasons kept; new differences under "UNREVIEWED:<category>")
 * to test-artifacts/, for a human to review and merge into differences.json. Used when
 * UPDATE_VECTOR_DIFFERENCES=1.
 */
export function writeDraft(list: AllowList | undefined, run: string, observed: readonly ObservedDifference[]): string {
  const previous = new Map<string, string>();
  for (const [reason, entries] of Object.entries(list?.runs[run] ?? {})) for (const id of Object.keys(entries)) previous.set(id, reason);
  const groups: Record<string, Record<string, string>> = {};
  for (const d of observed) {
    const reason = previous.get(d.id) ?? `UNREVIEWED:${d.category}`;
    (groups[reason] ??= {})[d.id] = d.observed;
  }
  const dir = path.resolve(path.dirname(DIFFERENCES_FILE), '../../../test-artifacts');
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `packet-vector-differences.${run}.json`);
  writeFileSync(out, JSON.stringify(groups, null, 2) + '\n');
  return out;
}
