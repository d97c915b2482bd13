import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { defaultPublicDir } from './locate.js';
import { CLIENT_ROUTES } from './web/paths.js';

// Serves the dashboard's built files (dashboard/build.ts) from the gateway's fastify server:
//   - the app's pages (CLIENT_ROUTES: /, /login, /alerts/:id, /tavle, …) answer index.html, `no-store`, so a
//     deploy takes effect at the next load and a reload on any page works;
//   - /assets/* are content-hashed files, cached for a year (`immutable`), served pre-compressed (br, gzip).
// Nothing else: /api/*, /docs, /metrics, /healthz, /readyz and unknown paths stay with their own routes and the
// app's not-found handler. The pages are public (the login page must load without a session); all data comes
// from the API, which checks the session, role and team on every request.

export interface DashboardRoutesOptions {
  /** The built files (index.html and assets/); default dist/dashboard/public, written by `npm run build`. */
  readonly publicDir?: string;
}

/** URL prefix of the hashed assets. */
export const DASHBOARD_ASSET_PREFIX = '/assets/';

/** Every route this plugin registers (GET, and HEAD by fastify): none carries data, none needs a session. */
export const DASHBOARD_ROUTES: readonly string[] = [...CLIENT_ROUTES, `${DASHBOARD_ASSET_PREFIX}*`];

const YEAR_SECONDS = 365 * 24 * 3600;

export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (app, opts) => {
  const publicDir = opts.publicDir ?? defaultPublicDir();
  const indexFile = join(publicDir, 'index.html');

  await app.register(fastifyStatic, {
    root: join(publicDir, 'assets'),
    prefix: DASHBOARD_ASSET_PREFIX,
    // Encapsulated and undecorated: another @fastify/static (e.g. swagger-ui's) can coexist.
    decorateReply: false,
    // Resolved per request, so a build after start-up is served too.
    wildcard: true,
    index: false,
    list: false,
    dotfiles: 'deny',
    preCompressed: true,
    maxAge: YEAR_SECONDS * 1000,
    immutable: true,
    // A missing build is reported by the pages (503), not as a warning at every start of a test app.
    suppressWarning: true,
  });

  async function sendIndex(reply: FastifyReply): Promise<Buffer | string> {
    void reply.header('cache-control', 'no-store');
    try {
      const html = await readFile(indexFile);
      void reply.type('text/html; charset=utf-8');
      return html;
    } catch {
      void reply.code(503).type('text/plain; charset=utf-8');
      return 'The dashboard is not built: run `npm run build`.\n';
    }
  }

  for (const url of CLIENT_ROUTES) {
    // Not part of the API: hidden from the OpenAPI document.
    app.get(url, { schema: { hide: true } }, (_request, reply) => sendIndex(reply));
  }
};
