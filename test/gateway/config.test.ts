import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, loadConfig, maskSecrets } from '../../gateway/config/load.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tryggheim-cfg-'));
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has production defaults and is frozen', () => {
    const c = loadConfig({ env: {} });
    expect(c.broker.tcp.port).toBe(1883);
    expect(c.broker.limits.maxConnectBytes).toBe(16 * 1024);
    expect(c.broker.limits.maxPacketBytes).toBe(256 * 1024);
    expect(c.broker.lockout).toEqual({ maxFailures: 5, windowSec: 60, lockSec: 900 });
    expect(Object.isFrozen(c.broker.limits)).toBe(true);
    expect(() => {
      (c.broker.tcp as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('reads YAML and JSON files; environment wins over the file', () => {
    const yaml = file('c.yaml', 'broker:\n  tcp:\n    port: 1999\nhttp:\n  port: 9000\n');
    const json = file('c.json', '{"broker": {"tcp": {"port": 2999}}}');
    expect(loadConfig({ file: yaml, env: {} }).broker.tcp.port).toBe(1999);
    expect(loadConfig({ file: json, env: {} }).broker.tcp.port).toBe(2999);
    const c = loadConfig({ file: yaml, env: { TRYGGHEIM_BROKER__TCP__PORT: '2000', TRYGGHEIM_BROKER__WS__ENABLED: 'false' } });
    expect(c.broker.tcp.port).toBe(2000);
    expect(c.broker.ws.enabled).toBe(false);
    expect(c.http.port).toBe(9000);
  });

  it('maps UPPER_SNAKE environment names to camelCase settings', () => {
    expect(configFromEnv({ TRYGGHEIM_BROKER__LIMITS__MAX_CONNECT_BYTES: '2048', TRYGGHEIM_DATA_DIR: '/tmp/x' })).toEqual({
      broker: { limits: { maxConnectBytes: 2048 } },
      dataDir: '/tmp/x',
    });
  });

  it('reports every problem at once, each with its path', () => {
    const yaml = file(
      'bad.yaml',
      'broker:\n  tcp:\n    port: 70000\n  tls:\n    certFile: /nonexistent/cert.pem\n  limtis: {}\nlog:\n  level: loud\n',
    );
    const found = problems(() => loadConfig({ file: yaml, env: { TRYGGHEIM_HTTP__PORT: 'eighty', TRYGGHEIM_NOPE: '1' } }));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^broker\.tcp\.port: /),
        'broker.tls.certFile: file not found (/nonexistent/cert.pem)',
        'broker.tls.keyFile: certFile and keyFile must be set together',
        'broker.limtis: unknown setting',
        expect.stringMatching(/^log\.level: /),
        expect.stringMatching(/^http\.port: .*number/),
        'TRYGGHEIM_NOPE: not a known setting',
      ]),
    );
    expect(found).toHaveLength(7);
  });

  it('names an unreadable or malformed file', () => {
    expect(problems(() => loadConfig({ file: '/nonexistent/tryggheim.yaml', env: {} }))).toEqual([
      'config file /nonexistent/tryggheim.yaml: ENOENT',
    ]);
    const bad = file('bad.yaml', 'broker: [unclosed');
    expect(problems(() => loadConfig({ file: bad, env: {} }))[0]).toMatch(/^config file .*bad\.yaml: /);
  });

  it('masks secret-looking values for printing', () => {
    expect(maskSecrets({ influx: { token: 'abc', url: 'http://x' }, password: 'p', empty: '' })).toEqual({
      influx: { token: '********', url: 'http://x' },
      password: '********',
      empty: '',
    });
  });
});
