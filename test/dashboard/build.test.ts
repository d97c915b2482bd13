import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, type DashboardBuild } from '../../dashboard/build.js';

// The real esbuild build of dashboard/web into a temporary folder: hashed, pre-compressed, small, local-only.

let dir: string;
let out: DashboardBuild;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-dashboard-build-'));
  out = await buildDashboard({ outDir: dir });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dashboard build', () => {
  it('writes index.html pointing at hashed assets that exist, each with .br and .gz', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBe(3); // script, stylesheet, icon
    for (const ref of refs) {
      expect(ref).toMatch(/-[A-Za-z0-9]{8}\.(js|css|svg)$/);
      for (const ext of ['', '.br', '.gz']) expect(existsSync(join(dir, `${ref.slice(1)}${ext}`)), ref + ext).toBe(true);
    }
  });

  it('loads nothing from another origin', () => {
    for (const f of out.files) {
      const text = readFileSync(join(dir, f.file), 'utf8');
      // URLs in code (e.g. the SVG namespace) are fine; what matters is nothing fetched: no src/href/url()/import elsewhere.
      expect(text, f.file).not.toMatch(/(?:src|href)=["']https?:|url\(\s*["']?https?:|import\s*\(?\s*["']https?:|@import/);
    }
  });

  it('keeps the first load well under 300 KB compressed', () => {
    expect(out.firstLoad.files).toContain('index.html');
    expect(out.firstLoad.brotli).toBeLessThan(100 * 1024);
    expect(out.firstLoad.gzip).toBeLessThan(100 * 1024);
    // Printed for dashboard/README.md's figure.
    console.log(
      `first load: ${out.firstLoad.bytes} B raw, ${out.firstLoad.gzip} B gzip, ${out.firstLoad.brotli} B brotli (${out.firstLoad.files.join(', ')})`,
    );
  });
});
