import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { fastify } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DASHBOARD_ROUTES, dashboardRoutes } from '../../dashboard/serve.js';
import { CLIENT_ROUTES } from '../../dashboard/web/paths.js';

// dashboardRoutes on an app shaped like the gateway's (zod compilers, a JSON not-found handler, API and ops
// routes beside it): pages get index.html (no-store), hashed assets a year's cache and pre-compressed bodies,
// and nothing else is claimed.

let dir: string;
const JS = 'console.log("dashboard");'.repeat(20);

const apps: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function app(publicDir: string) {
  const a = fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
  apps.push(a);
  a.setValidatorCompiler(validatorCompiler);
  a.setSerializerCompiler(serializerCompiler);
  a.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { code: 'TRY_ERR_NOT_FOUND', message: 'not found' } }));
  for (const url of ['/healthz', '/readyz', '/metrics', '/docs', '/api/v1/alerts']) {
    a.get(url, { schema: { response: { 200: z.object({ route: z.string() }) } } }, () => ({ route: url }));
  }
  void a.register(dashboardRoutes, { publicDir });
  return a;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-dashboard-serve-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><title>Tryggheim</title><script type="module" src="/assets/main-ABCD1234.js"></script>',
  );
  writeFileSync(join(dir, 'assets', 'main-ABCD1234.js'), JS);
  writeFileSync(join(dir, 'assets', 'main-ABCD1234.js.br'), brotliCompressSync(JS));
  writeFileSync(join(dir, 'assets', 'main-ABCD1234.js.gz'), gzipSync(JS));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dashboardRoutes', () => {
  it.each(['/', '/login', '/alerts', '/alerts/a-17', '/tavle', '/homes', '/homes/h-0001', '/devices', '/deadletters', '/report'])(
    'answers index.html for the page %s, never cached',
    async (url) => {
      const res = await app(dir).inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('<title>Tryggheim</title>');
    },
  );

  it('lists its routes for the authorization matrix (pages and assets)', () => {
    expect(DASHBOARD_ROUTES).toEqual([...CLIENT_ROUTES, '/assets/*']);
  });

  it('serves hashed assets for a year, brotli or gzip when the browser takes it', async () => {
    const a = app(dir);
    const br = await a.inject({ method: 'GET', url: '/assets/main-ABCD1234.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(br.statusCode).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const gz = await a.inject({ method: 'GET', url: '/assets/main-ABCD1234.js', headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const plain = await a.inject({ method: 'GET', url: '/assets/main-ABCD1234.js' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(JS);
  });

  it('leaves the API, docs, metrics and probes to their own routes', async () => {
    const a = app(dir);
    for (const url of ['/healthz', '/readyz', '/metrics', '/docs', '/api/v1/alerts']) {
      const res = await a.inject({ method: 'GET', url });
      expect(res.json(), url).toEqual({ route: url });
    }
  });

  it('answers unknown paths and missing assets with the app’s JSON 404, not the page', async () => {
    const a = app(dir);
    for (const url of ['/api/v1/nope', '/nope', '/alerts/a/b', '/assets/missing-12345678.js', '/assets/../index.html', '/docs/json']) {
      const res = await a.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.headers['content-type'], url).not.toMatch(/text\/html/);
    }
  });

  it('says the dashboard is not built (503) instead of failing when index.html is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tryggheim-dashboard-empty-'));
    try {
      const res = await app(empty).inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('npm run build');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
