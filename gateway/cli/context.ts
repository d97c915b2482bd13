import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** What every CLI command gets: how to read the config the user pointed at, and where to print. */
export interface CliContext {
  /** Loads and validates the config named by the global --config option (or $TRYGGHEIM_CONFIG). */
  config(): Readonly<Config>;
  out(line: string): void;
  err(line: string): void;
}

export const EXIT_CONFIG = 2;
export const EXIT_USAGE = 64;

export function createCliContext(program: Command): CliContext {
  let cached: Readonly<Config> | undefined;
  return {
    config() {
      cached ??= loadConfig({ file: program.opts<{ config?: string }>().config });
      return cached;
    },
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

/** Turns a ConfigError into the documented exit code 2 with every problem listed. */
export function reportConfigError(err: unknown, ctx: Pick<CliContext, 'err'>): number | undefined {
  if (err instanceof ConfigError) {
    ctx.err(err.message);
    return EXIT_CONFIG;
  }
  return undefined;
}
