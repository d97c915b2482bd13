import { describe, expect, it } from 'vitest';
import { getAdapter } from '../../adapters/registry.js';
import { fixtureCases } from './fixtures.js';

// One table-driven test walks every fixture folder: adding a vendor quirk = adding a folder.
const cases = fixtureCases();

describe('adapter golden fixtures', () => {
  it('there are fixtures', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [`${c.adapterId}/${c.name}`, c] as const))('%s', (_name, c) => {
    const adapter = getAdapter(c.adapterId);
    expect(adapter, `fixtures for unknown adapter ${c.adapterId}`).toBeDefined();
    const result = adapter?.decode(c.input);
    if (c.expected.ok) {
      expect(result).toEqual({ ok: true, events: c.expected.events });
    } else {
      expect(result?.ok).toBe(false);
      if (result?.ok === false) {
        expect(result.reason).toBe(c.expected.reason);
        expect(result.issues.length).toBeGreaterThan(0);
        if (c.expected.paths) expect(result.issues.map((i) => i.path)).toEqual(expect.arrayContaining(c.expected.paths));
      }
    }
  });
});
