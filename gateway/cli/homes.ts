import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { printJson, printTable, withRegistry } from './devices.js';

export function registerHomeCommands(program: Command, ctx: CliContext): void {
  const homes = program.command('homes').description('manage homes (the places devices are assigned to)');

  homes
    .command('add')
    .description('register a home')
    .argument('<id>', 'opaque home id, e.g. home-0001 (never a name or address)')
    .requiredOption('--team <teamId>', 'home-care team that follows up its alerts')
    .option('--tz <timeZone>', 'IANA time zone for schedules and night-time rules', 'Europe/Oslo')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { team: string; tz: string; json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const home = registry.addHome({ id, teamId: opts.team, timeZone: opts.tz });
        if (opts.json) {
          printJson(ctx, home);
          return;
        }
        ctx.out(`Home ${home.id} added (team ${home.teamId}, time zone ${home.timeZone}).`);
      });
    });

  homes
    .command('list')
    .description('list homes')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const list = registry.listHomes();
        if (opts.json) {
          printJson(ctx, list);
          return;
        }
        if (list.length === 0) {
          ctx.out('no homes');
          return;
        }
        printTable(
          ctx,
          ['ID', 'TEAM', 'TIME ZONE', 'CREATED'],
          list.map((h) => [h.id, h.teamId, h.timeZone, h.createdAt]),
        );
      });
    });
}
