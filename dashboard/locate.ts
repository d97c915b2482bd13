import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Where the dashboard's files are, whether this runs from source (vitest: dashboard/*.ts) or compiled
// (dist/dashboard/*.js): both sit below the folder with package.json.

export function repoRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(from)}`);
    dir = parent;
  }
}

/** The browser sources (dashboard/web). */
export function webSourceDir(): string {
  return join(repoRoot(), 'dashboard', 'web');
}

/** What `npm run build` writes and the gateway serves: index.html and assets/. */
export function defaultPublicDir(): string {
  return join(repoRoot(), 'dist', 'dashboard', 'public');
}
