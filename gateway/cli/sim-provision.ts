import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { CareStore } from '../care/store.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { DEFAULT_SLOTS } from '../../simulators/devices/dispenser.js';
import type { Credentials, DeviceSpec } from '../../simulators/types.js';

// `tryggheim sim provision`: a scenario's homes, devices, hub children and secrets in the registry, and the
// credentials file the player connects with. Idempotent: what exists is kept (its secret too, taken from the
// credentials file) unless --rotate asks for new secrets.

export const CredentialsFileSchema = z.record(z.string().min(1), z.strictObject({ secret: z.string().min(1) }));

/** Thrown for a credentials or retarget file that cannot be used; the message names the file and the problem. */
export class SimFileError extends Error {
  override readonly name = 'SimFileError';
}

export function readJsonFile<S extends z.ZodType>(file: string, schema: S, what: string): z.output<S> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SimFileError(`${file}: cannot read the ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimFileError(`${file}: not a valid ${what}: ${issue?.path.map(String).join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}

export function readCredentials(file: string): Credentials {
  return readJsonFile(file, CredentialsFileSchema, 'credentials file');
}

/** Secrets are credentials: owner read/write only, also when the file existed with a looser mode. */
export function writeCredentials(file: string, creds: Credentials): void {
  const sorted = Object.fromEntries(Object.entries(creds).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeFileSync(file, `${JSON.stringify(sorted, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export interface ProvisionReport {
  readonly homesCreated: readonly string[];
  readonly created: readonly string[];
  readonly rotated: readonly string[];
  readonly kept: readonly string[];
  /** Existing clients whose secret is neither in the credentials file nor rotated: they cannot connect. */
  readonly missingSecrets: readonly string[];
  readonly childrenMapped: number;
  /** Homes given the simulated dispensers' dose schedule (they had none). */
  readonly schedulesSet: readonly string[];
  readonly credentials: Credentials;
}

export function provisionFleet(
  registry: DeviceRegistry,
  fleet: readonly DeviceSpec[],
  opts: {
    teamId: string;
    timeZone: string;
    rotate: boolean;
    existing: Credentials;
    onDevice?: () => void;
    /** When given, homes with a dispenser and no dose schedule get the simulated dispensers' one. */
    care?: Pick<CareStore, 'details' | 'setSchedule'>;
  },
): ProvisionReport {
  const homesCreated: string[] = [];
  const created: string[] = [];
  const rotated: string[] = [];
  const kept: string[] = [];
  const missingSecrets: string[] = [];
  const creds: Record<string, { secret: string }> = { ...opts.existing };
  let childrenMapped = 0;

  const ensureHome = (id: string): void => {
    if (registry.getHome(id) !== undefined) return;
    registry.addHome({ id, teamId: opts.teamId, timeZone: opts.timeZone });
    homesCreated.push(id);
  };
  /** Registers the device if it is new (returning its secret), else keeps it in its home. */
  const ensureDevice = (d: {
    id: string;
    kind: DeviceSpec['kind'];
    model: string;
    adapterId: string;
    home: string;
  }): string | undefined => {
    if (registry.getDevice(d.id) === undefined) {
      return registry.addDevice({ id: d.id, kind: d.kind, model: d.model, adapterId: d.adapterId, homeId: d.home }).secret;
    }
    registry.assign(d.id, d.home); // no change when it is already there
    return undefined;
  };

  for (const spec of fleet) {
    ensureHome(spec.home);
    const fresh = ensureDevice({ id: spec.id, kind: spec.kind, model: spec.model, adapterId: spec.format, home: spec.home });
    if (fresh !== undefined) {
      creds[spec.id] = { secret: fresh };
      created.push(spec.id);
    } else if (opts.rotate) {
      creds[spec.id] = { secret: registry.rotateSecret(spec.id) };
      rotated.push(spec.id);
    } else if (creds[spec.id] !== undefined) kept.push(spec.id);
    else missingSecrets.push(spec.id);
    // Children never connect (the hub speaks for them): registered for the adapter and the home, no secret kept.
    for (const child of spec.children ?? []) {
      if (ensureDevice({ id: child.id, kind: child.kind, model: child.model, adapterId: spec.format, home: spec.home }) !== undefined)
        created.push(child.id);
      if (registry.addBridgeChild({ bridgeId: spec.id, friendlyName: child.friendlyName, deviceId: child.id })) childrenMapped += 1;
    }
    opts.onDevice?.();
  }
  // The missed-dose rule needs the schedule the dispensers keep (simulators/devices/dispenser.ts): without it a
  // home has no doses and no dose can be missed. A schedule someone set already is left alone.
  const schedulesSet: string[] = [];
  const dispenserHomes = new Set(fleet.filter((d) => d.kind === 'dispenser').map((d) => d.home));
  for (const home of opts.care ? dispenserHomes : []) {
    if (opts.care?.details(home).defaulted.includes('doses') !== true) continue;
    opts.care.setSchedule(
      home,
      DEFAULT_SLOTS.map((time) => ({ time })),
    );
    schedulesSet.push(home);
  }
  return { homesCreated, created, rotated, kept, missingSecrets, childrenMapped, schedulesSet, credentials: creds };
}

export function existingCredentials(file: string): Credentials {
  return existsSync(file) ? readCredentials(file) : {};
}
