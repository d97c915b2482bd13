import { CommanderError, Option, type Command } from 'commander';
import { DatabaseError, databasePath, openDatabase, type Database } from '../db/sqlite.js';
import { DeviceKindSchema, type DeviceKind } from '../devices/ids.js';
import { RegistryError, type Device, type DeviceDetails } from '../devices/model.js';
import { createDeviceRegistry, type DeviceRegistry } from '../devices/registry.js';
import type { CliContext } from './context.js';

/** The adapter id recorded for observers, which never publish anything to decode. */
export const OBSERVER_ADAPTER = 'none';

/** Exit code for an expected failure (unknown id, duplicate, bad input): the message says what to fix. */
export const EXIT_FAILURE = 1;

/**
 * Opens the database for one command and closes it afterwards. Expected failures are printed as one line
 * and rethrown as a CommanderError, the same contract commander itself follows under exitOverride():
 * already reported, exit with err.exitCode. Config errors and bugs pass through untouched.
 */
export function withRegistry<T>(ctx: CliContext, fn: (registry: DeviceRegistry, db: Database) => T): T {
  const { dataDir } = ctx.config();
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    db = openDatabase(databasePath(dataDir));
    return fn(createDeviceRegistry({ db }), db);
  } catch (err) {
    if (err instanceof RegistryError || err instanceof DatabaseError) {
      ctx.err(`error: ${err.message}`);
      throw new CommanderError(EXIT_FAILURE, err.code, err.message);
    }
    throw err;
  } finally {
    db?.close();
  }
}

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}

/** Left-aligned columns for humans; machines use --json. */
export function printTable(ctx: CliContext, headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  ctx.out(line(headers));
  for (const row of rows) ctx.out(line(row));
}

function printSecret(ctx: CliContext, deviceId: string, secret: string): void {
  ctx.out(`Secret for ${deviceId}:`);
  ctx.out(`  ${secret}`);
  ctx.out('This secret will not be shown again. Put it in the device configuration now;');
  ctx.out(`if it is lost, run: tryggheim devices rotate-secret ${deviceId}`);
}

function deviceRow(d: Device): string[] {
  return [d.id, d.kind, d.model, d.adapterId, d.homeId ?? '-', d.enabled ? 'yes' : 'no'];
}

function printDetails(ctx: CliContext, d: DeviceDetails): void {
  const current = d.assignments.find((a) => a.validTo === null);
  ctx.out(`id:              ${d.id}`);
  ctx.out(`kind:            ${d.kind}`);
  ctx.out(`model:           ${d.model}`);
  ctx.out(`adapter:         ${d.adapterId}`);
  ctx.out(`enabled:         ${d.enabled ? 'yes' : 'no'}`);
  ctx.out(`home:            ${current ? `${current.homeId} (since ${current.validFrom})` : '-'}`);
  ctx.out(`created:         ${d.createdAt}`);
  ctx.out(`secret rotated:  ${d.secretRotatedAt ?? 'never'}`);
  if (d.parent) ctx.out(`behind bridge:   ${d.parent.bridgeId} as ${d.parent.friendlyName}`);
  if (d.assignments.length > 0) {
    ctx.out('assignments:');
    for (const a of d.assignments) ctx.out(`  ${a.homeId}  ${a.validFrom} → ${a.validTo ?? 'current'}`);
  }
  if (d.children) {
    ctx.out(`children:        ${d.children.length === 0 ? 'none' : ''}`.trimEnd());
    for (const c of d.children) ctx.out(`  ${c.friendlyName}  ${c.deviceId}`);
  }
}

function notFound(id: string): never {
  throw new RegistryError('TRY_ERR_DEVICE_NOT_FOUND', `device ${id} not found`);
}

// commander has already checked --kind against DeviceKindSchema's options.
interface AddOptions {
  kind: DeviceKind;
  model: string;
  adapter?: string;
  home?: string;
  json?: boolean;
}

export function registerDeviceCommands(program: Command, ctx: CliContext): void {
  const devices = program.command('devices').description('provision and manage devices');

  devices
    .command('add')
    .description('register a device and print its secret (shown once)')
    .argument('<id>', 'opaque device id, e.g. d-0001')
    .addOption(new Option('--kind <kind>', 'device kind').choices(DeviceKindSchema.options).makeOptionMandatory())
    .requiredOption('--model <model>', 'vendor model')
    .option('--adapter <adapterId>', 'adapter that decodes its payloads (required, except for --kind observer)')
    .option('--home <homeId>', 'assign to this home now')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: AddOptions) => {
      // An observer only reads (a recorder account): it publishes nothing for an adapter to decode.
      const adapterId = opts.adapter ?? (opts.kind === 'observer' ? OBSERVER_ADAPTER : undefined);
      if (adapterId === undefined) {
        ctx.err("error: required option '--adapter <adapterId>' not specified");
        throw new CommanderError(EXIT_FAILURE, 'TRY_ERR_INVALID_INPUT', 'missing --adapter');
      }
      withRegistry(ctx, (registry) => {
        const { device, secret } = registry.addDevice({
          id,
          kind: opts.kind,
          model: opts.model,
          adapterId,
          homeId: opts.home,
        });
        if (opts.json) {
          printJson(ctx, { device, secret });
          return;
        }
        ctx.out(
          `Device ${device.id} added (${device.kind}, model ${device.model}, adapter ${device.adapterId}, home ${device.homeId ?? '-'}).`,
        );
        printSecret(ctx, device.id, secret);
      });
    });

  devices
    .command('list')
    .description('list devices')
    .option('--home <homeId>', 'only devices currently in this home')
    .addOption(new Option('--kind <kind>', 'only devices of this kind').choices(DeviceKindSchema.options))
    .option('--json', 'machine-readable output')
    .action((opts: { home?: string; kind?: DeviceKind; json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const list = registry.listDevices({ homeId: opts.home, kind: opts.kind });
        if (opts.json) {
          printJson(ctx, list);
          return;
        }
        if (list.length === 0) {
          ctx.out('no devices');
          return;
        }
        printTable(ctx, ['ID', 'KIND', 'MODEL', 'ADAPTER', 'HOME', 'ENABLED'], list.map(deviceRow));
      });
    });

  devices
    .command('show')
    .description('show a device, its assignment history and, for bridges, its children')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const device = registry.getDevice(id) ?? notFound(id);
        if (opts.json) printJson(ctx, device);
        else printDetails(ctx, device);
      });
    });

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    devices
      .command(name)
      .description(
        enabled
          ? 'allow the device to connect again'
          : 'refuse the device (its secret is kept); a running gateway closes its open connection within a second',
      )
      .argument('<id>')
      .action((id: string) => {
        withRegistry(ctx, (registry) => {
          registry.setEnabled(id, enabled);
          ctx.out(`Device ${id} ${enabled ? 'enabled' : 'disabled'}.`);
        });
      });
  }

  devices
    .command('set-adapter')
    .description("decode this device's payloads with another adapter from now on (replay its dead letters afterwards)")
    .argument('<id>')
    .argument('<adapterId>')
    .action((id: string, adapterId: string) => {
      withRegistry(ctx, (registry) => {
        registry.setAdapter(id, adapterId);
        ctx.out(`Device ${id} now uses adapter ${adapterId}.`);
      });
    });

  devices
    .command('rotate-secret')
    .description('replace the device secret (the old one stops working) and print the new one once')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { json?: boolean }) => {
      withRegistry(ctx, (registry) => {
        const secret = registry.rotateSecret(id);
        if (opts.json) {
          printJson(ctx, { id, secret });
          return;
        }
        ctx.out(`Secret of device ${id} replaced; the old secret no longer works.`);
        printSecret(ctx, id, secret);
      });
    });

  devices
    .command('assign')
    .description('move a device to a home from now on (its history is kept)')
    .argument('<id>')
    .argument('<homeId>')
    .action((id: string, homeId: string) => {
      withRegistry(ctx, (registry) => {
        const { changed, assignment } = registry.assign(id, homeId);
        ctx.out(
          changed
            ? `Device ${id} assigned to home ${homeId} from ${assignment.validFrom}.`
            : `Device ${id} is already assigned to home ${homeId}; nothing changed.`,
        );
      });
    });

  devices
    .command('unassign')
    .description('take a device out of its home from now on (back in stock)')
    .argument('<id>')
    .action((id: string) => {
      withRegistry(ctx, (registry) => {
        ctx.out(registry.unassign(id) ? `Device ${id} unassigned.` : `Device ${id} was not assigned; nothing changed.`);
      });
    });

  devices
    .command('add-child')
    .description("map a bridge's child (by the hub's friendly name) to a registered device")
    .argument('<bridgeId>')
    .argument('<friendlyName>')
    .argument('<deviceId>')
    .action((bridgeId: string, friendlyName: string, deviceId: string) => {
      withRegistry(ctx, (registry) => {
        const added = registry.addBridgeChild({ bridgeId, friendlyName, deviceId });
        ctx.out(`Bridge ${bridgeId}: ${friendlyName} → device ${deviceId}${added ? '.' : ' (already mapped; nothing changed).'}`);
      });
    });
}
