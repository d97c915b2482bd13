import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The compiled script of a worker thread, given the caller's `import.meta.url` and the script's path
 * relative to the project root without extension (`gateway/storage/influx-thread-worker`). Under vitest
 * the gateway runs from its TypeScript sources, which a worker thread cannot load, so the build's copy in
 * dist/ is used (`npm test` builds first).
 */
export function workerScript(callerUrl: string, fromRoot: string): URL {
  const name = fromRoot.split('/').at(-1) ?? fromRoot;
  const sibling = new URL(`./${name}.js`, callerUrl);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  const depth = fromRoot.split('/').length - 1;
  return new URL(`${'../'.repeat(depth)}dist/${fromRoot}.js`, callerUrl);
}
