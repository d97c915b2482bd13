import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/gateway.js';

// The compiled CLI as an operator runs it (`npm start` runs dist/, not a TypeScript loader). `npm test`
// builds first (the `pretest` script).

const CLI = resolve('dist/gateway/cli/main.js');
const dirs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tryggheim-cli-'));
  dirs.push(d);
  return d;
}

function env(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    TRYGGHEIM_DATA_DIR: dataDir,
    TRYGGHEIM_BROKER__HOST: '127.0.0.1',
    TRYGGHEIM_BROKER__TCP__PORT: '0',
    TRYGGHEIM_BROKER__WS__PORT: '0',
    TRYGGHEIM_HTTP__PORT: '0',
    ...extra,
  };
}

function cli(args: string[], e: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: e });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

describe('tryggheim CLI (compiled)', () => {
  it('config check: exit 2 and every problem listed when the config is bad; secrets never printed', async () => {
    const dir = tempDir();
    const bad = await cli(
      ['config', 'check'],
      env(dir, { TRYGGHEIM_BROKER__TCP__PORT: 'x', TRYGGHEIM_BROKER__TLS__KEY_FILE: '/nonexistent.pem' }),
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('broker.tcp.port:');
    expect(bad.stderr).toContain('broker.tls.keyFile: file not found (/nonexistent.pem)');
    expect(bad.stderr).toContain('broker.tls.certFile: certFile and keyFile must be set together');
    const good = await cli(['config', 'check'], env(dir));
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ dataDir: dir, broker: { host: '127.0.0.1' } });
  });

  it('start: devices added with the CLI connect with mosquitto_pub; SIGTERM stops it cleanly', async () => {
    const dir = tempDir();
    const e = env(dir);
    expect((await cli(['homes', 'add', 'home-0001', '--team', 'team-north'], e)).code).toBe(0);
    const added = await cli(
      [
        'devices',
        'add',
        'd-0001',
        '--kind',
        'dispenser',
        '--model',
        'demo-dispenser',
        '--adapter',
        'tryggheim',
        '--home',
        'home-0001',
        '--json',
      ],
      e,
    );
    expect(added.code).toBe(0);
    const { secret } = JSON.parse(added.stdout) as { secret: string };
    expect(secret).toMatch(/^tgs_/);

    const gw = spawn(process.execPath, [CLI, 'start'], { env: e });
    children.push(gw);
    let out = '';
    gw.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const port = await new Promise<number>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`gateway did not start:\n${out}`)), 15_000);
      gw.stdout.on('data', () => {
        const m = /"listener":"mqtt-tcp","host":"[^"]+","port":(\d+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          ok(Number(m[1]));
        }
      });
    });
    const pub = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-i',
      'd-0001',
      '-u',
      'd-0001',
      '-P',
      secret,
      '-q',
      '1',
      '-t',
      'tryggheim/v1/devices/d-0001/up',
      '-m',
      '{}',
    ]);
    expect(pub.code).toBe(0);
    const refused = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-i',
      'd-0001',
      '-u',
      'd-0001',
      '-P',
      'nope',
      '-t',
      'tryggheim/v1/devices/d-0001/up',
      '-m',
      '{}',
    ]);
    expect(refused.code).not.toBe(0);

    const exited = new Promise<number | null>((r) => gw.on('exit', (code) => r(code)));
    gw.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The security log line names the device and the reason, never the secret.
    expect(out).toMatch(/"event":"security.auth_failed".*"deviceId":"d-0001".*"reason":"bad_secret"/);
    expect(out).not.toContain(secret);
    expect(out).not.toContain('nope');
  });
});
