import { describe, expect, it } from 'vitest';
import { DecodedEventSchema } from '../../adapters/canonical.js';
import { ADAPTERS } from '../../adapters/registry.js';
import { badPayloads } from './bad-payloads.js';
import { fixtureCases } from './fixtures.js';

// 10,000 generated bad payloads per adapter, made from the adapter's own valid fixtures by mutations that
// are bad by construction: invalid UTF-8, random bytes, NaN/Infinity, huge numbers, deep nesting,
// `__proto__` keys, timestamps in 1970 and 2100, 1 MB strings, wrong JSON types, truncation. Every one must
// come back as a failure value with a reason — no throw, no success, no prototype pollution.

const PER_ADAPTER = 10_000;

describe('bad input never crashes an adapter and is always refused with a reason', () => {
  const cases = fixtureCases();
  it.each(ADAPTERS.map((a) => [a.id, a] as const))('%s: 10,000 generated bad payloads', (_id, adapter) => {
    const seeds = cases.filter((c) => c.adapterId === adapter.id && c.expected.ok).map((c) => c.input);
    expect(seeds.length, 'the adapter needs valid fixtures to mutate').toBeGreaterThan(0);
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const accepted: string[] = [];
    const byKind: Record<string, number> = {};
    let n = 0;
    for (const { i, kind, input } of badPayloads(adapter, seeds, PER_ADAPTER)) {
      n += 1;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      let result;
      try {
        result = adapter.decode(input);
      } catch (err) {
        throw new Error(`${adapter.id} threw on bad payload #${i} (${kind}): ${String(err)}`);
      }
      if (result.ok) {
        // Never pass on anything that is not canonical; and a bad payload must not be accepted at all.
        for (const e of result.events) DecodedEventSchema.parse(e);
        if (accepted.length < 5) accepted.push(`#${i} ${kind}: ${Buffer.from(input.payload).toString('utf8').slice(0, 200)}`);
        else accepted.push('');
      } else {
        expect(result.issues.length, `#${i} ${kind}: a failure must say why`).toBeGreaterThan(0);
      }
    }
    expect(n).toBe(PER_ADAPTER);
    expect(accepted, `accepted bad payloads (first 5 shown): ${accepted.slice(0, 5).join('\n')}`).toHaveLength(0);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(byKind).length).toBeGreaterThanOrEqual(8);
  });
});
