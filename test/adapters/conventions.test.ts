import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceClassSchema } from '../../adapters/contract.js';
import { ADAPTERS } from '../../adapters/registry.js';
import { fixtureCases } from './fixtures.js';

// Walks the adapter registry: every adapter follows the catalogue's rules.
const readme = readFileSync(new URL('../../adapters/README.md', import.meta.url), 'utf8');

describe('adapter conventions', () => {
  it('ids are unique and topic/CLI safe', () => {
    const ids = ADAPTERS.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9][a-z0-9-]{1,40}$/);
  });

  it.each(ADAPTERS.map((a) => [a.id, a] as const))('%s: version, classes, docs and fixtures', (id, adapter) => {
    expect(Number.isInteger(adapter.version) && adapter.version >= 1).toBe(true);
    expect(adapter.deviceClasses.length).toBeGreaterThan(0);
    for (const c of adapter.deviceClasses) expect(DeviceClassSchema.options).toContain(c);
    expect(readme, `adapters/README.md needs a "## ${id}" section with an example`).toContain(`## ${id}`);
    const cases = fixtureCases(id);
    expect(cases.filter((c) => c.expected.ok).length, 'at least 3 valid fixtures').toBeGreaterThanOrEqual(3);
    expect(cases.filter((c) => !c.expected.ok).length, 'at least 2 failure fixtures').toBeGreaterThanOrEqual(2);
  });

  it.each(ADAPTERS.map((a) => [a.id, a] as const))('%s: pure — the same input decodes to the same output', (id, adapter) => {
    for (const c of fixtureCases(id)) expect(adapter.decode(c.input)).toEqual(adapter.decode(c.input));
  });

  it.each(ADAPTERS.map((a) => [a.id, a] as const))('%s: junk never throws', (_id, adapter) => {
    const junk: Uint8Array[] = [
      new Uint8Array(),
      Buffer.from('null'),
      Buffer.from('[]'),
      Buffer.from('{}'),
      Buffer.from('""'),
      Buffer.from('0'),
      Buffer.from('\u0000'),
    ];
    for (const payload of junk) {
      for (const subtopic of ['up', '', 'a/b/c', 'bridge/state']) {
        const result = adapter.decode({ payload, subtopic, receivedAt: '2026-11-23T08:00:00.000Z' });
        expect(result.ok).toBe(false);
      }
    }
  });
});
