#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { maskSecrets } from '../config/load.js';
import { registerAlertCommands } from './alerts.js';
import { registerCareCommands } from './care.js';
import { createCliContext, reportConfigError, type CliContext } from './context.js';
import { registerDeadLetterCommands } from './deadletters.js';
import { registerDemoCommand } from './demo.js';
import { registerDeviceCommands } from './devices.js';
import { registerHomeCommands } from './homes.js';
import { registerServiceAccountCommands } from './service-accounts.js';
import { registerSimCommands } from './sim.js';
import { registerUserCommands } from './users.js';
import { runUntilSignal } from './run.js';
import { startGateway } from '../main.js';

// `tryggheim` — the one command line for operators and technicians. Exit codes: 0 ok, 1 an expected failure
// (the message says what to fix), 2 invalid configuration (every problem listed), 70 a bug.

export function buildProgram(ctx?: CliContext): Command {
  const program = new Command('tryggheim')
    .description('Tryggheim gateway: MQTT broker, device registry and alerts for home-care welfare technology')
    .option('-c, --config <file>', 'config file (YAML or JSON); default $TRYGGHEIM_CONFIG')
    .exitOverride()
    .showHelpAfterError();
  const context = ctx ?? createCliContext(program);

  program
    .command('start')
    .description('run the gateway (broker, HTTP) until SIGINT/SIGTERM')
    .action(async () => {
      const config = context.config();
      await runUntilSignal(() => startGateway(config), context);
    });

  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the configuration and print the effective values, secrets masked')
    .action(() => {
      context.out(JSON.stringify(maskSecrets(context.config()), null, 2));
    });

  registerDeviceCommands(program, context);
  registerHomeCommands(program, context);
  registerServiceAccountCommands(program, context);
  registerUserCommands(program, context);
  registerCareCommands(program, context);
  registerAlertCommands(program, context);
  registerDeadLetterCommands(program, context);
  registerDemoCommand(program, context);
  registerSimCommands(program, context);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const err = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    const configExit = reportConfigError(e, { err });
    if (configExit !== undefined) return configExit;
    // Already reported (commander's own usage errors, and our commands' expected failures).
    if (e instanceof CommanderError) return e.exitCode;
    err(`tryggheim: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 70;
  }
}

// Run when executed directly (bin or `node dist/gateway/cli/main.js`), not when imported by tests.
const invokedAs = process.argv[1] ?? '';
if (invokedAs.endsWith('/cli/main.js') || invokedAs.endsWith('/tryggheim')) {
  process.exitCode = await main(process.argv);
}
