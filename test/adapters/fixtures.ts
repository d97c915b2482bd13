import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdapterInput } from '../../adapters/contract.js';

// Golden fixtures: test/fixtures/adapters/<adapter>/<case>/{input,expected}.json.
// input.json: { "subtopic"?: "up", "receivedAt"?: ISO, and exactly one of
//               "payload": <any JSON value, sent as its JSON text> | "text": "<raw text>" | "base64": "<bytes>" }
// expected.json: { "ok": true, "events": [...] } or { "ok": false, "reason": "...", "paths"?: [["ts"], ...] }

export const FIXTURES_ROOT = new URL('../fixtures/adapters/', import.meta.url).pathname;
export const DEFAULT_RECEIVED_AT = '2026-11-23T08:00:00.000Z';

export interface FixtureCase {
  adapterId: string;
  name: string;
  input: AdapterInput;
  expected: { ok: true; events: unknown[] } | { ok: false; reason: string; paths?: (string | number)[][] };
}

interface InputFile {
  subtopic?: string;
  receivedAt?: string;
  payload?: unknown;
  text?: string;
  base64?: string;
}

export function loadInput(file: string): AdapterInput {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as InputFile;
  const sources = [raw.payload !== undefined, raw.text !== undefined, raw.base64 !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new Error(`${file}: exactly one of payload, text, base64`);
  const payload =
    raw.text !== undefined
      ? Buffer.from(raw.text, 'utf8')
      : raw.base64 !== undefined
        ? Buffer.from(raw.base64, 'base64')
        : Buffer.from(JSON.stringify(raw.payload), 'utf8');
  return { payload, subtopic: raw.subtopic ?? 'up', receivedAt: raw.receivedAt ?? DEFAULT_RECEIVED_AT };
}

export function fixtureCases(adapterId?: string): FixtureCase[] {
  if (!existsSync(FIXTURES_ROOT)) return [];
  const ids = adapterId !== undefined ? [adapterId] : readdirSync(FIXTURES_ROOT);
  return ids.flatMap((id) => {
    const dir = join(FIXTURES_ROOT, id);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .sort()
      .map((name) => ({
        adapterId: id,
        name,
        input: loadInput(join(dir, name, 'input.json')),
        expected: JSON.parse(readFileSync(join(dir, name, 'expected.json'), 'utf8')) as FixtureCase['expected'],
      }));
  });
}
