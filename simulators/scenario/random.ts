// Deterministic randomness for scenarios: every choice derives from the scenario seed, so the same file gives
// the same fleet and the same actions byte for byte (README: deterministic).

/** FNV-1a over the UTF-16 code units, then a final avalanche: a 32-bit seed from any string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: small, fast and good enough for behaviour models (not for secrets). Values in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source for one purpose (a device id, `fleet`, `incidents`), independent of every other purpose. */
export const deriveRand = (seed: number, purpose: string): (() => number) => mulberry32(hash32(`${seed >>> 0}/${purpose}`));

export function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
  return items;
}

/**
 * Splits `n` slots between keys in proportion to their weights (largest remainder, so "60 %" of 20 homes is
 * exactly 12), then shuffles who gets what. Returns one key per slot.
 */
export function apportion<K>(n: number, weights: readonly (readonly [K, number])[], rand: () => number): K[] {
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  if (n === 0 || total <= 0) return [];
  const exact = weights.map(([k, w]) => ({ k, q: (n * w) / total }));
  const counts = exact.map((e) => Math.floor(e.q));
  let left = n - counts.reduce((a, b) => a + b, 0);
  // Ties in the remainder go to the earlier key: the order of the file is the tie-break, not chance.
  const order = exact.map((e, i) => ({ i, r: e.q - Math.floor(e.q) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left-- <= 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
  }
  const out: K[] = [];
  exact.forEach((e, i) => {
    for (let c = 0; c < (counts[i] ?? 0); c++) out.push(e.k);
  });
  return shuffle(out, rand);
}
