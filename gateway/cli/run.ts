import type { Gateway } from '../main.js';
import type { CliContext } from './context.js';

type OnStartedResult = undefined | (() => Promise<void>);

/** Starts the gateway and keeps it running until SIGINT or SIGTERM, then closes it in order. */
export async function runUntilSignal(
  start: () => Promise<Gateway>,
  ctx: CliContext,
  /** May return a clean-up that runs before the gateway closes (e.g. stop simulated devices first). */
  onStarted?: (gw: Gateway) => OnStartedResult | Promise<OnStartedResult>,
): Promise<void> {
  let gateway: Gateway;
  try {
    gateway = await start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      ctx.err(`error: cannot listen: ${e.message}${e.cause ? ` (${e.cause.message})` : ''}. Choose another port in the config.`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  const cleanup = await onStarted?.(gateway);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      gateway.logger.info({ event: 'gateway.signal', signal }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      (typeof cleanup === 'function' ? cleanup().catch(() => undefined) : Promise.resolve())
        .then(() => gateway.close())
        .then(resolve, (err: unknown) => {
          gateway.logger.error({ event: 'gateway.close_failed', err }, 'shutdown failed');
          resolve();
        });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
