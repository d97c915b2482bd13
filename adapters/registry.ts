import type { Adapter } from './contract.js';
import { tryggheimAdapter } from './tryggheim.js';

// The adapter catalogue: an explicit list, not a folder scan. Adding a vendor = one file, one line here,
// fixtures under test/fixtures/adapters/<id>/, and a section in adapters/README.md.
export const ADAPTERS: readonly Adapter[] = [tryggheimAdapter];

const byId = new Map(ADAPTERS.map((a) => [a.id, a]));

export function getAdapter(id: string): Adapter | undefined {
  return byId.get(id);
}

export function adapterIds(): string[] {
  return ADAPTERS.map((a) => a.id);
}
