import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { defaultPublicDir, repoRoot, webSourceDir } from './locate.js';

// Builds the browser side (issue 6 item 3): dashboard/web → <outDir>/index.html + <outDir>/assets/*-<hash>.*
// esbuild bundles and minifies the TypeScript/JSX (Preact) and the CSS; every asset name carries its content
// hash, so the server can cache assets for a year and only index.html (no-store) decides what a browser
// loads. Assets are also written pre-compressed (.br, .gz): @fastify/static serves those, so the gateway needs
// no compression plugin and spends no CPU per request. `npm run build` runs this after tsc.

export interface FileSize {
  readonly file: string;
  readonly bytes: number;
  readonly gzip: number;
  readonly brotli: number;
}

export interface DashboardBuild {
  readonly outDir: string;
  readonly files: readonly FileSize[];
  /** What a browser fetches to show the first page: index.html, the entry script and its imports, CSS, icon. */
  readonly firstLoad: Omit<FileSize, 'file'> & { readonly files: readonly string[] };
}

export interface BuildOptions {
  /** Default: dist/dashboard/public. Emptied first. */
  readonly outDir?: string;
  readonly minify?: boolean;
}

// The favicon: a house with a check mark, drawn here so nothing is fetched from elsewhere.
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b3d66"/><path d="M6 16 16 7l10 9v10H6z" fill="#fff"/><path d="m11.5 18.5 3.2 3.2 6-6.2" fill="none" stroke="#0b3d66" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

function sizeOf(file: string, content: Buffer): FileSize {
  return {
    file,
    bytes: content.length,
    gzip: gzipSync(content, { level: 9 }).length,
    brotli: brotliCompressSync(content, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

export async function buildDashboard(opts: BuildOptions = {}): Promise<DashboardBuild> {
  const outDir = opts.outDir ?? defaultPublicDir();
  const assetsDir = join(outDir, 'assets');
  const src = webSourceDir();
  await rm(outDir, { recursive: true, force: true });
  await mkdir(assetsDir, { recursive: true });

  const result = await build({
    absWorkingDir: repoRoot(),
    entryPoints: [join(src, 'main.tsx')],
    tsconfig: join(src, 'tsconfig.json'),
    bundle: true,
    splitting: true,
    format: 'esm',
    // Browsers of the last few years, phones included (iOS 15+); nothing newer is needed.
    target: ['es2020', 'chrome100', 'firefox100', 'safari15', 'edge100'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: opts.minify ?? true,
    legalComments: 'none',
    sourcemap: false,
    outdir: assetsDir,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    write: true,
    logLevel: 'warning',
  });

  const outputs = result.metafile.outputs;
  const entryOut = Object.keys(outputs).find((p) => outputs[p]?.entryPoint !== undefined && p.endsWith('.js'));
  const entry = entryOut === undefined ? undefined : outputs[entryOut];
  if (entryOut === undefined || entry?.cssBundle === undefined) throw new Error('esbuild produced no entry script and stylesheet');
  const cssOut = entry.cssBundle;

  const iconName = `icon-${createHash('sha256').update(ICON).digest('hex').slice(0, 8)}.svg`;
  await writeFile(join(assetsDir, iconName), ICON);

  const url = (p: string) => `/assets/${basename(p)}`;
  const template = await readFile(join(src, 'index.html'), 'utf8');
  const html = template.replace('%SCRIPT%', url(entryOut)).replace('%STYLE%', url(cssOut)).replace('%ICON%', `/assets/${iconName}`);
  await writeFile(join(outDir, 'index.html'), html);

  // Pre-compress every asset once, and measure.
  const files: FileSize[] = [sizeOf('index.html', Buffer.from(html))];
  for (const name of (await readdir(assetsDir)).sort()) {
    const content = await readFile(join(assetsDir, name));
    files.push(sizeOf(`assets/${name}`, content));
    await writeFile(join(assetsDir, `${name}.br`), brotliCompressSync(content, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }));
    await writeFile(join(assetsDir, `${name}.gz`), gzipSync(content, { level: 9 }));
  }

  // The entry's static imports (shared chunks) load with it; dynamic imports (later pages) do not.
  const firstNames = new Set(['index.html', `assets/${basename(cssOut)}`, `assets/${iconName}`]);
  const queue = [entryOut];
  while (queue.length > 0) {
    const next = queue.pop() as string;
    firstNames.add(`assets/${basename(next)}`);
    for (const imp of outputs[next]?.imports ?? []) {
      if (imp.kind === 'import-statement' && imp.external !== true) queue.push(imp.path); // metafile paths, as its keys
    }
  }
  const first = files.filter((f) => firstNames.has(f.file));
  const firstLoad = {
    files: first.map((f) => f.file),
    bytes: first.reduce((n, f) => n + f.bytes, 0),
    gzip: first.reduce((n, f) => n + f.gzip, 0),
    brotli: first.reduce((n, f) => n + f.brotli, 0),
  };
  return { outDir, files, firstLoad };
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KB`;
}

// Run when executed directly (`node dist/dashboard/build.js`, from `npm run build`), not when imported by tests.
if ((process.argv[1] ?? '').endsWith('/dashboard/build.js')) {
  const started = Date.now();
  const out = await buildDashboard();
  for (const f of out.files) {
    process.stdout.write(
      `  ${f.file.padEnd(34)} ${kb(f.bytes).padStart(10)} raw ${kb(f.gzip).padStart(9)} gzip ${kb(f.brotli).padStart(9)} br\n`,
    );
  }
  const fl = out.firstLoad;
  process.stdout.write(
    `dashboard built in ${Date.now() - started} ms → ${relative(process.cwd(), out.outDir)}; first load ${kb(fl.bytes)} raw, ${kb(fl.gzip)} gzip, ${kb(fl.brotli)} brotli\n`,
  );
}
