import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigSchema } from '../gateway/config/schema.js';

// README is the front door: every setting the schema accepts must be documented there, so adding a setting
// without documenting it fails here.

function leaves(schema: z.ZodType, prefix = ''): string[] {
  let s = schema;
  for (;;) {
    const def = (s as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def;
    if (def.innerType === undefined) break;
    s = def.innerType;
  }
  if (!(s instanceof z.ZodObject)) return [prefix];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const paths = leaves(ConfigSchema);

  it('finds the settings (sanity check of the walker)', () => {
    expect(paths).toContain('broker.limits.maxConnectBytes');
    expect(paths).toContain('broker.tls.certFile');
    expect(paths.length).toBeGreaterThan(20);
  });

  it.each(paths)('documents the setting %s', (path) => {
    expect(readme).toContain(`\`${path}\``);
  });

  it('has exactly two quick-start command lines', () => {
    const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(quick.trim().split('\n')).toHaveLength(2);
  });
});
