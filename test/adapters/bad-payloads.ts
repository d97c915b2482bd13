import type { Adapter, AdapterInput } from '../../adapters/contract.js';
import { prng as rng } from '../support/prng.js';

// Generated bad payloads, made from an adapter's own valid fixtures by mutations that are bad by construction:
// invalid UTF-8, random bytes, NaN/Infinity, huge numbers, deep nesting, `__proto__` keys, timestamps in 1970
// and 2100, 1 MB strings, wrong JSON types, truncation. Deterministic (seeded per adapter).

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function leaves(v: Json, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [path];
}

function setAt(v: Json, path: (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  const clone = structuredClone(v) as Record<string | number, Json>;
  let cur = clone;
  for (const key of path.slice(0, -1)) cur = cur[key] as Record<string | number, Json>;
  const last = path.at(-1);
  if (last !== undefined) cur[last] = value;
  return clone;
}

const HUGE = [1e308, -1e308, 2 ** 63, -(2 ** 63)];

function valueAt(json: Json, path: (string | number)[]): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], json);
}

/** For delimited text formats: replaces one whole numeric field (between , ; or line ends) with `token`. */
function replaceNumericField(text: string, token: string, r: () => number): Buffer | undefined {
  const fields = [...text.matchAll(/(?<=^|[,;\n])-?\d+(\.\d+)?(?=[,;\n]|$)/g)];
  const m = fields[Math.floor(r() * fields.length)];
  if (m?.index === undefined) return undefined;
  return Buffer.from(text.slice(0, m.index) + token + text.slice(m.index + m[0].length), 'utf8');
}
const ISO = /^\d{4}-\d{2}-\d{2}T/;

/** Mutators: given a seed payload (and a random source), return bytes that no adapter may accept, or undefined if not applicable. */
const mutators: Record<string, (seed: Buffer, json: Json | undefined, r: () => number) => Buffer | undefined> = {
  invalidUtf8: (seed, _j, r) => {
    const at = Math.floor(r() * (seed.length + 1));
    const bad = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]][Math.floor(r() * 4)] ?? [0xff];
    return Buffer.concat([seed.subarray(0, at), Buffer.from(bad), seed.subarray(at)]);
  },
  randomBytes: (_s, _j, r) => {
    const n = 1 + Math.floor(r() * 300);
    const b = Buffer.alloc(n, 0);
    for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
    b[Math.floor(r() * n)] = 0xff; // never valid UTF-8
    return b;
  },
  nanText: (seed, json, r) => {
    const token = ['NaN', 'Infinity', '-Infinity', 'nan'][Math.floor(r() * 4)] ?? 'NaN';
    if (json !== undefined) {
      // A numeric leaf becomes a bare NaN/Infinity token: not JSON any more.
      const numeric = leaves(json).filter((p) => typeof valueAt(json, p) === 'number');
      const path = numeric[Math.floor(r() * numeric.length)];
      if (path === undefined) return undefined;
      return Buffer.from(JSON.stringify(setAt(json, path, '\u0000TOKEN\u0000')).replace('"\\u0000TOKEN\\u0000"', token), 'utf8');
    }
    return replaceNumericField(seed.toString('utf8'), token, r);
  },
  hugeNumber: (seed, json, r) => {
    if (json === undefined) return replaceNumericField(seed.toString('utf8'), String(HUGE[Math.floor(r() * 4)]), r);
    const numeric = leaves(json).filter(
      (p) => typeof p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], json) === 'number',
    );
    const path = numeric[Math.floor(r() * numeric.length)];
    if (path === undefined) return undefined;
    return Buffer.from(JSON.stringify(setAt(json, path, HUGE[Math.floor(r() * 4)] ?? 1e308)), 'utf8');
  },
  deepNesting: (_s, _j, r) => {
    const depth = [1_000, 10_000, 100_000][Math.floor(r() * 3)] ?? 1000;
    const open = r() < 0.5 ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    return Buffer.from(open.repeat(depth) + '1' + close.repeat(depth), 'utf8');
  },
  protoKeys: (seed, json, r) => {
    const key = ['__proto__', 'constructor', 'prototype'][Math.floor(r() * 3)] ?? '__proto__';
    if (json === undefined || json === null || typeof json !== 'object' || Array.isArray(json)) {
      return Buffer.from(`${seed.toString('utf8')},${key}`, 'utf8');
    }
    // Raw text so that "__proto__" is a real own key after JSON.parse (an object literal would not be).
    const inner = JSON.stringify(json).slice(1);
    return Buffer.from(`{"${key}":{"polluted":true,"isAdmin":true}${inner === '}' ? '}' : `,${inner}`}`, 'utf8');
  },
  badTimestamp: (seed, json) => {
    const text = seed.toString('utf8');
    if (json === undefined) {
      const replaced = text.replace(/\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?/, '1970-06-01T00:00:00Z');
      return replaced === text ? undefined : Buffer.from(replaced, 'utf8');
    }
    const times = leaves(json).filter((p) => {
      const v = p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], json);
      return (typeof v === 'string' && ISO.test(v)) || (typeof v === 'number' && v > 1e9 && v < 1e13);
    });
    const path = times[0];
    if (path === undefined) return undefined;
    const v = path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], json);
    const year = text.length % 2 === 0 ? 1970 : 2100;
    // 1970-06-01 rather than 0: in SenML a time of 0 means "now" (RFC 8428 §4.5.3), and one in 1970 must be refused.
    const SEC_1970 = 13_046_400;
    const SEC_2100 = 4_102_444_800;
    const asMs = v !== undefined && (v as number) > 1e11;
    const replacement =
      typeof v === 'string'
        ? `${year === 1970 ? '1970-06-01' : '2100-01-01'}T00:00:00Z`
        : (year === 1970 ? SEC_1970 : SEC_2100) * (asMs ? 1000 : 1);
    return Buffer.from(JSON.stringify(setAt(json, path, replacement)), 'utf8');
  },
  megabyteString: (seed, json, r) => {
    const big = 'x'.repeat(1024 * 1024);
    if (json === undefined) return Buffer.from(`${seed.toString('utf8')}${big}`, 'utf8');
    const strings = leaves(json).filter(
      (p) => typeof p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], json) === 'string',
    );
    const path = strings[Math.floor(r() * strings.length)];
    if (path === undefined) return undefined;
    return Buffer.from(JSON.stringify(setAt(json, path, big)), 'utf8');
  },
  wrongType: (_s, json, r) => {
    if (json === undefined) return undefined;
    const all = leaves(json);
    const path = all[Math.floor(r() * all.length)];
    if (path === undefined) return undefined;
    const replacement: Json = [{}, [], null, { nested: { deeper: [1, 2, 3] } }][Math.floor(r() * 4)] ?? null;
    return Buffer.from(JSON.stringify(setAt(json, path, replacement)), 'utf8');
  },
  truncated: (seed, _json, r) => {
    // Delimited formats too: their grammar must make a cut-off message detectable (a terminator, a field count).
    if (seed.length < 2) return undefined;
    return seed.subarray(0, Math.max(1, Math.floor(r() * (seed.length - 1))));
  },
};

const MEGABYTE_EVERY = 250; // 1 MB payloads are costly: one in 250 mutations of that kind

export function* badPayloads(
  adapter: Adapter,
  seeds: AdapterInput[],
  count: number,
): Generator<{ i: number; kind: string; input: AdapterInput }> {
  const r = rng(0x7e57 + adapter.id.length);
  const kinds = Object.keys(mutators).filter((k) => k !== 'megabyteString');
  let produced = 0;
  for (let i = 0; produced < count; i++) {
    const seed = seeds[i % seeds.length];
    if (seed === undefined) return;
    const kind = i % MEGABYTE_EVERY === 0 ? 'megabyteString' : (kinds[Math.floor(r() * kinds.length)] ?? 'invalidUtf8');
    const seedBuf = Buffer.from(seed.payload);
    let json: Json | undefined;
    try {
      json = JSON.parse(seedBuf.toString('utf8')) as Json;
    } catch {
      json = undefined;
    }
    const payload = mutators[kind]?.(seedBuf, json, r);
    if (payload === undefined) continue;
    produced += 1;
    yield { i, kind, input: { ...seed, payload } };
  }
}
