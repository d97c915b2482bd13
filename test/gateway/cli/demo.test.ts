import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir } from '../../support/gateway.js';

// Issue 4: "a new user following README runs the demo and sees devices publishing within a minute". The
// compiled CLI exactly as `npm run demo` runs it, in a temp data dir with every port free: its own influxd,
// the busy district provisioned and playing; then Ctrl+C stops everything it started.

const CLI = resolve('dist/gateway/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'tryggheim-demo-'));

afterAll(() => {
  removeDir(dir);
});

describe('npm run demo', () => {
  it('shows simulated devices publishing within a minute, and stops everything on SIGINT', async () => {
    const child = spawn(process.execPath, [CLI, 'demo'], {
      env: {
        ...process.env,
        TRYGGHEIM_DATA_DIR: join(dir, 'data'),
        TRYGGHEIM_BROKER__TCP__PORT: '0',
        TRYGGHEIM_BROKER__TLS__PORT: '0',
        TRYGGHEIM_BROKER__WS__PORT: '0',
        TRYGGHEIM_HTTP__PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const started = Date.now();
    const progress = /\[demo\] simulated \d\d:\d\d · ([\d,]+) messages acknowledged/;
    try {
      while (Date.now() - started < 60_000 && !progress.test(out)) await new Promise((r) => setTimeout(r, 250));
      const acked = Number((progress.exec(out)?.[1] ?? '0').replaceAll(',', ''));
      expect(out).toContain('Simulated district: 200 homes');
      expect(acked).toBeGreaterThan(100);
      expect(out).toMatch(/0 dead letters/);
    } finally {
      child.kill('SIGINT');
    }
    // Bounded: a demo that does not stop on Ctrl+C fails the test and is killed, never left behind.
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(out).toMatch(/\[demo\] district stopped: \d+ acknowledged, 0 failed, 0 refused/);
    // Nothing the demo started outlives it (its influxd runs with a config under the temp dir).
    expect(spawnSync('pgrep', ['-f', dir]).stdout.toString().trim()).toBe('');
  }, 90_000);
});
