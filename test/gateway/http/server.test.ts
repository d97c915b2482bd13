import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../gateway/http/app.js';
import { startHttpServer, type HttpServerHandle } from '../../../gateway/http/server.js';
import { createMetrics } from '../../../gateway/metrics.js';

function newApp() {
  return buildApp({
    logger: false,
    metrics: createMetrics({ brokerStats: () => undefined }),
    readiness: () => ({ broker: true, database: true }),
  });
}

const handles: HttpServerHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

describe('startHttpServer', () => {
  it('listens on a real socket and answers /healthz, then closes', async () => {
    const server = await startHttpServer(newApp(), { host: '127.0.0.1', port: 0 });
    handles.push(server);
    expect(server.address.address).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
    const url = `http://127.0.0.1:${server.address.port}/healthz`;

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });

    await server.close();
    await expect(fetch(url)).rejects.toThrow();
    // A second close (e.g. shutdown racing a signal) is harmless.
    await server.close();
  });

  it('reports a port already in use as an error with the cause attached', async () => {
    const first = await startHttpServer(newApp(), { host: '127.0.0.1', port: 0 });
    handles.push(first);

    const attempt = startHttpServer(newApp(), { host: '127.0.0.1', port: first.address.port });

    await expect(attempt).rejects.toThrow(`HTTP server could not listen on 127.0.0.1:${first.address.port}`);
    await expect(attempt).rejects.toHaveProperty('cause.code', 'EADDRINUSE');
  });
});
