import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// WCAG AA contrast (4.5:1 for text) of the dashboard's colours, read from the stylesheet itself: every rule
// that sets both a text colour and a background, and the pairs that meet by inheritance (text on the page,
// on cards, on the wall board's tiles).

const css = ['base', 'alerts', 'tavle']
  .map((f) => readFileSync(new URL(`../../dashboard/web/styles/${f}.css`, import.meta.url), 'utf8'))
  .join('\n')
  .replace(/\/\*[\s\S]*?\*\//g, '');
const vars = new Map([...css.matchAll(/(--[\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map((m) => [m[1] ?? '', (m[2] ?? '').toLowerCase()]));

function resolve(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  const ref = /^var\((--[\w-]+)\)$/.exec(v);
  if (ref) return vars.get(ref[1] ?? '');
  return /^#[0-9a-f]{6}$/.test(v) ? v : undefined;
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** [selector, text, background] for every rule block that sets both to plain colours. */
function rulePairs(): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const m of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    const body = m[2] ?? '';
    const fg = /(?:^|;|\s)color:\s*([^;]+);/.exec(body)?.[1];
    const bg = /background(?:-color)?:\s*([^;]+);/.exec(body)?.[1];
    const f = fg === undefined ? undefined : resolve(fg);
    const b = bg === undefined ? undefined : resolve(bg);
    if (f !== undefined && b !== undefined) out.push([(m[1] ?? '').trim().replace(/\s+/g, ' '), f, b]);
  }
  return out;
}

const INHERITED: [string, string, string][] = [
  ['text on the page', 'var(--ink)', 'var(--bg)'],
  ['text on a card', 'var(--ink)', 'var(--surface)'],
  ['muted text on a card', 'var(--ink-muted)', 'var(--surface)'],
  ['muted text on the page', 'var(--ink-muted)', 'var(--bg)'],
  ['links on the page', 'var(--primary)', 'var(--bg)'],
  ['links and secondary buttons on a card', 'var(--primary)', 'var(--surface)'],
  ['overdue on a card', 'var(--danger)', 'var(--surface)'],
  ['due soon on a card', 'var(--warn)', 'var(--surface)'],
  ['acknowledged on a card', 'var(--ok)', 'var(--surface)'],
  ['header text', 'var(--brand-ink)', 'var(--brand)'],
  ['wall board text', '#ffffff', '#000000'],
  ['wall board secondary text', '#d0d0d0', '#000000'],
  ['tile text', '#ffffff', '#1b1b1b'],
  ['tile secondary text', '#d0d0d0', '#1b1b1b'],
  ['tile acknowledged', '#7dff9b', '#1b1b1b'],
  ['empty board', '#7dff9b', '#000000'],
];

describe('colour contrast', () => {
  it('reads the palette', () => {
    expect(vars.size).toBeGreaterThan(15);
    expect(rulePairs().length).toBeGreaterThan(8);
  });

  it.each(rulePairs())('%s: %s on %s is at least 4.5:1', (_selector, fg, bg) => {
    expect(contrast(fg, bg)).toBeGreaterThanOrEqual(4.5);
  });

  it.each(INHERITED)('%s (%s on %s) is at least 4.5:1', (_what, fg, bg) => {
    for (const c of [fg, bg]) if (c.startsWith('#')) expect(css).toContain(c);
    const f = resolve(fg);
    const b = resolve(bg);
    expect(f !== undefined && b !== undefined).toBe(true);
    expect(contrast(f ?? '', b ?? '')).toBeGreaterThanOrEqual(4.5);
  });
});
