import type { Command } from 'commander';
import { alertsPrefix } from '../../broker/acl.js';
import type { ServiceAccount } from '../devices/model.js';
import type { CliContext } from './context.js';
import { printJson, printTable, withRegistry } from './devices.js';

// `tryggheim service-accounts …`: MQTT accounts for integrations (a home-service system, a call centre) that
// read one team's alerts under `tryggheim/v1/alerts/{teamId}/` (gateway/delivery/mqtt.ts) and nothing else.

function printSecret(ctx: CliContext, account: ServiceAccount, secret: string): void {
  ctx.out(`Secret for ${account.id}:`);
  ctx.out(`  ${secret}`);
  ctx.out("This secret will not be shown again. Put it in the integration's configuration now;");
  ctx.out(`if it is lost, run: tryggheim service-accounts rotate-secret ${account.id}`);
  ctx.out(
    `Connect with client id and username ${account.id}; subscribe to ${alertsPrefix(account.teamId)}events and ${alertsPrefix(account.teamId)}open.`,
  );
}

function accountRow(a: ServiceAccount): string[] {
  return [a.id, a.teamId, a.enabled ? 'yes' : 'no', a.createdAt, a.secretRotatedAt ?? 'never'];
}

export function registerServiceAccountCommands(program: Command, ctx: CliContext): void {
  const accounts = program.command('service-accounts').description("MQTT accounts for integrations that read one team's alerts");

  accounts
    .command('add')
    .description("create an account that may read the team's alert topics, and print its secret (shown once)")
    .argument('<id>', 'opaque account id, e.g. svc-north-hs (it is the MQTT client id and username)')
    .requiredOption('--team <teamId>', 'the team whose alerts it reads')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { team: string; json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const { account, secret } = registry.addServiceAccount({ id, teamId: opts.team });
        if (opts.json) {
          printJson(ctx, { account, secret });
          return;
        }
        ctx.out(`Service account ${account.id} added (team ${account.teamId}).`);
        // Not an error (the ops team has no homes), but a misspelt team id would otherwise read nothing, silently.
        if (!registry.listHomes().some((h) => h.teamId === account.teamId)) {
          ctx.out(`Note: no home belongs to team ${account.teamId} yet; check the spelling unless that is expected.`);
        }
        printSecret(ctx, account, secret);
      });
    });

  accounts
    .command('list')
    .description('list service accounts')
    .option('--team <teamId>', 'only accounts of this team')
    .option('--json', 'machine-readable output')
    .action((opts: { team?: string; json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const list = registry.listServiceAccounts({ teamId: opts.team });
        if (opts.json) {
          printJson(ctx, list);
          return;
        }
        if (list.length === 0) {
          ctx.out('no service accounts');
          return;
        }
        printTable(ctx, ['ID', 'TEAM', 'ENABLED', 'CREATED', 'SECRET ROTATED'], list.map(accountRow));
      });
    });

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    accounts
      .command(name)
      .description(
        enabled
          ? 'allow the account to connect again'
          : 'refuse the account (its secret is kept); a running gateway closes its open connection within a second',
      )
      .argument('<id>')
      .action((id: string) => {
        withRegistry(ctx, (registry) => {
          registry.setServiceAccountEnabled(id, enabled);
          ctx.out(`Service account ${id} ${enabled ? 'enabled' : 'disabled'}.`);
        });
      });
  }

  accounts
    .command('rotate-secret')
    .description('replace the secret (the old one stops working) and print the new one once')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const secret = registry.rotateServiceAccountSecret(id);
        const account = registry.getServiceAccount(id);
        if (opts.json) {
          printJson(ctx, { id, secret });
          return;
        }
        ctx.out(`Secret of service account ${id} replaced; the old secret no longer works.`);
        if (account) printSecret(ctx, account, secret);
      });
    });
}
