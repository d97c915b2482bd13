import type { AddressInfo } from 'node:net';
import type { HttpApp } from './app.js';

export interface HttpListenOptions {
  host: string;
  /** 0 picks a free port (tests); the bound one is in `address`. */
  port: number;
}

export interface HttpServerHandle {
  readonly address: AddressInfo;
  /** Stops accepting, lets in-flight requests finish, closes the app. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * The only place the HTTP API binds a socket; `buildApp()` never listens. On failure the app is closed and
 * the error (cause chained) says which address was wanted.
 */
export async function startHttpServer(app: HttpApp, opts: HttpListenOptions): Promise<HttpServerHandle> {
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (cause) {
    // No handle reaches the caller, so nothing else could close the app; the listen failure is the error
    // worth reporting, not a failure to close what never opened.
    await app.close().catch(() => undefined);
    throw new Error(`HTTP server could not listen on ${opts.host}:${opts.port}`, { cause });
  }
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    // listen() on host:port always yields an AddressInfo; anything else is a bug.
    throw new Error(`HTTP server bound to an unexpected address: ${String(address)}`);
  }
  let closing: Promise<void> | undefined;
  return {
    address,
    close: () => {
      closing ??= app.close().then(() => undefined);
      return closing;
    },
  };
}
