import type { AuthResult } from '../../broker/types.js';
import { sqliteErrorCode, type Database } from '../db/sqlite.js';
import {
  AddDeviceInputSchema,
  AddHomeInputSchema,
  AddServiceAccountInputSchema,
  BridgeChildSchema,
  ListDevicesFilterSchema,
  ListServiceAccountsFilterSchema,
  RegistryError,
  type AddDeviceInput,
  type AddHomeInput,
  type AddServiceAccountInput,
  type Assignment,
  type BridgeChild,
  type Device,
  type DeviceDetails,
  type Home,
  type ListDevicesFilter,
  type ListServiceAccountsFilter,
  type RegistryErrorCode,
  type ServiceAccount,
} from './model.js';
import { generateSecret, hashSecret, verifySecret } from './secrets.js';
import { AdapterIdSchema, type DeviceKind } from './ids.js';
import { createSqliteDeviceStore } from './store.js';
import type { z } from 'zod';

/*
 * Style: commands (add, assign, rotate...) throw RegistryError for expected failures; look-ups (get, homeAt,
 * resolve...) return undefined for "no such thing"; authenticate returns the broker's AuthResult value.
 * Ids are validated where they are born (addHome, addDevice, addBridgeChild); elsewhere an id that breaks
 * the rules simply does not exist.
 */

export interface DeviceRegistryDeps {
  db: Database;
  now?: () => Date;
}

// Members are arrow functions, not methods, so that `authenticate: registry.authenticate` can be handed to the
// broker without binding.
export type DeviceRegistry = ReturnType<typeof createDeviceRegistry>;

const UNKNOWN_DEVICE: AuthResult = { ok: false, reason: 'unknown_device' };
const BAD_SECRET: AuthResult = { ok: false, reason: 'bad_secret' };
const DISABLED: AuthResult = { ok: false, reason: 'disabled' };
// Checked against when the id is unknown, so that an unknown id and a wrong secret cost the same work.
const DUMMY_HASH = hashSecret(generateSecret());

export function createDeviceRegistry(deps: DeviceRegistryDeps) {
  const store = createSqliteDeviceStore(deps.db);
  const now = deps.now ?? (() => new Date());

  const requireDevice = (id: string): Device => store.getDevice(id) ?? fail('TRY_ERR_DEVICE_NOT_FOUND', `device ${id} not found`);
  const requireHome = (id: string): Home => store.getHome(id) ?? fail('TRY_ERR_HOME_NOT_FOUND', `home ${id} not found`);

  return {
    addHome: (input: AddHomeInput): Home => {
      const parsed = parse(AddHomeInputSchema, input);
      const home: Home = { id: parsed.id, teamId: parsed.teamId, timeZone: canonicalTimeZone(parsed.timeZone), createdAt: isoTime(now()) };
      guard(
        'adding a home',
        () => {
          store.insertHome(home);
        },
        (code) => (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? ['TRY_ERR_HOME_EXISTS', `home ${home.id} already exists`] : undefined),
      );
      return home;
    },

    listHomes: (): Home[] => guard('listing homes', () => store.listHomes()),
    getHome: (id: string): Home | undefined => guard('reading a home', () => store.getHome(id)),

    /** The secret is returned here once; only its hash is stored. */
    addDevice: (input: AddDeviceInput): { device: Device; secret: string } => {
      const parsed = parse(AddDeviceInputSchema, input);
      const secret = generateSecret();
      const at = isoTime(now());
      const device = guard(
        'adding a device',
        () =>
          store.transaction(() => {
            if (store.getDevice(parsed.id)) fail('TRY_ERR_DEVICE_EXISTS', `device ${parsed.id} already exists`);
            if (store.getServiceAccount(parsed.id))
              fail('TRY_ERR_DEVICE_EXISTS', `id ${parsed.id} is already used by a service account (they share MQTT client ids)`);
            if (parsed.homeId !== undefined) {
              assertPlaceable(parsed, 'be assigned to a home');
              requireHome(parsed.homeId);
            }
            store.insertDevice({ ...parsed, secretHash: hashSecret(secret), createdAt: at });
            if (parsed.homeId !== undefined) store.openNewAssignment(parsed.id, parsed.homeId, at);
            return requireDevice(parsed.id);
          }),
        (code) =>
          code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_TRIGGER'
            ? ['TRY_ERR_DEVICE_EXISTS', `id ${parsed.id} is already in use`]
            : undefined,
      );
      return { device, secret };
    },

    listDevices: (filter: ListDevicesFilter = {}): Device[] => {
      const parsed = parse(ListDevicesFilterSchema, filter);
      return guard('listing devices', () => store.listDevices(parsed));
    },

    getDevice: (id: string): DeviceDetails | undefined => {
      return guard('reading a device', () => {
        const device = store.getDevice(id);
        if (!device) return undefined;
        return {
          ...device,
          assignments: store.assignments(id),
          ...(device.kind === 'bridge' ? { children: store.childrenOf(id) } : {}),
          parent: store.parentOf(id) ?? null,
        };
      });
    },

    /** Points the device at another adapter (a wrong model at provisioning, a vendor firmware change). */
    setAdapter: (id: string, adapterId: string): void => {
      const parsed = parse(AdapterIdSchema, adapterId);
      const found = guard('updating a device', () => store.setAdapter(id, parsed));
      if (!found) fail('TRY_ERR_DEVICE_NOT_FOUND', `device ${id} not found`);
    },

    setEnabled: (id: string, enabled: boolean): void => {
      const found = guard('updating a device', () => store.setEnabled(id, enabled));
      if (!found) fail('TRY_ERR_DEVICE_NOT_FOUND', `device ${id} not found`);
    },

    /** Replaces the secret; the old one stops working at once. Returns the new secret, shown once. */
    rotateSecret: (id: string): string => {
      const secret = generateSecret();
      const found = guard('rotating a secret', () => store.setSecretHash(id, hashSecret(secret), isoTime(now())));
      if (!found) fail('TRY_ERR_DEVICE_NOT_FOUND', `device ${id} not found`);
      return secret;
    },

    /**
     * Moves a device to a home from `at` (default now): the open assignment is closed at `at` and a new one
     * opened. Assigning to the home it is already in changes nothing. History cannot be rewritten: `at`
     * must not be earlier than the device's latest recorded change.
     */
    assign: (deviceId: string, homeId: string, at?: Date): { changed: boolean; assignment: Assignment } => {
      const when = isoTime(at ?? now());
      return guard('assigning a device', () =>
        store.transaction(() => {
          assertPlaceable(requireDevice(deviceId), 'be assigned to a home');
          requireHome(homeId);
          const open = store.openAssignment(deviceId);
          if (open?.homeId === homeId) return { changed: false, assignment: open };
          assertNotBeforeHistory(store.lastAssignmentTime(deviceId), when, deviceId);
          if (open) store.closeAssignment(deviceId, when);
          store.openNewAssignment(deviceId, homeId, when);
          return { changed: true, assignment: { homeId, validFrom: when, validTo: null } };
        }),
      );
    },

    /** Closes the open assignment at `at` (default now). Returns false when the device had none. */
    unassign: (deviceId: string, at?: Date): boolean => {
      const when = isoTime(at ?? now());
      return guard('unassigning a device', () =>
        store.transaction(() => {
          requireDevice(deviceId);
          const open = store.openAssignment(deviceId);
          if (!open) return false;
          assertNotBeforeHistory(store.lastAssignmentTime(deviceId), when, deviceId);
          store.closeAssignment(deviceId, when);
          return true;
        }),
      );
    },

    /** The home the device was assigned to at `at`: readings belong to the patient of that moment. */
    homeAt: (deviceId: string, at: Date): string | undefined => {
      return guard('resolving a home', () => store.homeAt(deviceId, at.toISOString()));
    },

    /**
     * Maps a hub's child (by friendly name) to a registered device. Returns false when exactly this mapping
     * already existed, so provisioning scripts can be re-run.
     */
    addBridgeChild: (input: BridgeChild): boolean => {
      const child = parse(BridgeChildSchema, input);
      return guard(
        'adding a bridge child',
        () =>
          store.transaction(() => {
            const bridge = requireDevice(child.bridgeId);
            if (bridge.kind !== 'bridge') fail('TRY_ERR_NOT_A_BRIDGE', `device ${bridge.id} is a ${bridge.kind}, not a bridge`);
            const device = requireDevice(child.deviceId);
            assertPlaceable(device, 'sit behind a bridge');
            if (device.kind === 'bridge')
              fail('TRY_ERR_INVALID_INPUT', `device ${device.id} is a bridge and cannot sit behind another bridge`);
            const byName = store.childByName(child.bridgeId, child.friendlyName);
            if (byName?.deviceId === child.deviceId) return false;
            if (byName) {
              fail(
                'TRY_ERR_BRIDGE_CHILD_EXISTS',
                `bridge ${child.bridgeId} already has a child named ${child.friendlyName} (device ${byName.deviceId})`,
              );
            }
            const parent = store.parentOf(child.deviceId);
            if (parent) {
              fail(
                'TRY_ERR_BRIDGE_CHILD_EXISTS',
                `device ${child.deviceId} is already behind bridge ${parent.bridgeId} as ${parent.friendlyName}`,
              );
            }
            store.insertChild(child, isoTime(now()));
            return true;
          }),
        (code) =>
          code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
            ? ['TRY_ERR_BRIDGE_CHILD_EXISTS', `bridge child ${child.bridgeId}/${child.friendlyName} conflicts with an existing one`]
            : undefined,
      );
    },

    resolveBridgeChild: (bridgeId: string, friendlyName: string): string | undefined => {
      return guard('resolving a bridge child', () => store.childByName(bridgeId, friendlyName)?.deviceId);
    },

    // ── Service accounts: an integration's read-only MQTT account for one team's alerts ──────────────────

    /** The secret is returned here once; only its hash is stored. The team need not have homes yet (the ops team). */
    addServiceAccount: (input: AddServiceAccountInput): { account: ServiceAccount; secret: string } => {
      const parsed = parse(AddServiceAccountInputSchema, input);
      const secret = generateSecret();
      const at = isoTime(now());
      const taken = (): never => fail('TRY_ERR_SERVICE_ACCOUNT_EXISTS', `service account ${parsed.id} already exists`);
      const account = guard(
        'adding a service account',
        () =>
          store.transaction(() => {
            if (store.getServiceAccount(parsed.id)) taken();
            if (store.getDevice(parsed.id))
              fail('TRY_ERR_SERVICE_ACCOUNT_EXISTS', `id ${parsed.id} is already used by a device (they share MQTT client ids)`);
            store.insertServiceAccount({ id: parsed.id, teamId: parsed.teamId, secretHash: hashSecret(secret), createdAt: at });
            return store.getServiceAccount(parsed.id) ?? taken();
          }),
        (code) =>
          code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_TRIGGER'
            ? ['TRY_ERR_SERVICE_ACCOUNT_EXISTS', `id ${parsed.id} is already in use`]
            : undefined,
      );
      return { account, secret };
    },

    listServiceAccounts: (filter: ListServiceAccountsFilter = {}): ServiceAccount[] => {
      const parsed = parse(ListServiceAccountsFilterSchema, filter);
      return guard('listing service accounts', () => store.listServiceAccounts(parsed));
    },

    getServiceAccount: (id: string): ServiceAccount | undefined => guard('reading a service account', () => store.getServiceAccount(id)),

    /** Disabling refuses the account at its next CONNECT; a running gateway also closes an open connection (credential-watch.ts). */
    setServiceAccountEnabled: (id: string, enabled: boolean): void => {
      const found = guard('updating a service account', () => store.setServiceEnabled(id, enabled));
      if (!found) fail('TRY_ERR_SERVICE_ACCOUNT_NOT_FOUND', `service account ${id} not found`);
    },

    /** Replaces the secret; the old one stops working at once. Returns the new secret, shown once. */
    rotateServiceAccountSecret: (id: string): string => {
      const secret = generateSecret();
      const found = guard('rotating a secret', () => store.setServiceSecretHash(id, hashSecret(secret), isoTime(now())));
      if (!found) fail('TRY_ERR_SERVICE_ACCOUNT_NOT_FOUND', `service account ${id} not found`);
      return secret;
    },

    /**
     * Runs for every CONNECT, for devices, observers and service accounts alike (one client id namespace).
     * The secret is verified before `disabled` is reported, so only someone holding the secret learns that
     * the account exists but is switched off; an unknown id costs the same hash check as a wrong secret.
     */
    authenticate: (deviceId: string, secret: Buffer): AuthResult => {
      const creds = guard('authenticating', () => store.credentials(deviceId));
      if (creds) {
        if (!verifySecret(secret, creds.secretHash)) return BAD_SECRET;
        if (!creds.enabled) return DISABLED;
        return { ok: true, principal: { kind: principalKind(creds.kind), id: deviceId } };
      }
      const service = guard('authenticating', () => store.serviceCredentials(deviceId));
      if (!service) {
        verifySecret(secret, DUMMY_HASH);
        return UNKNOWN_DEVICE;
      }
      if (!verifySecret(secret, service.secretHash)) return BAD_SECRET;
      if (!service.enabled) return DISABLED;
      return { ok: true, principal: { kind: 'service', id: deviceId, teamId: service.teamId } };
    },
  };
}

/** The broker only knows what a client may do: a bridge's topics, an observer's read-only view, or a device's own. */
function principalKind(kind: DeviceKind): 'device' | 'bridge' | 'observer' {
  if (kind === 'bridge' || kind === 'observer') return kind;
  return 'device';
}

/** An observer is an account, not a device in a home: it has no patient and sits behind no hub. */
function assertPlaceable(device: Pick<Device, 'id' | 'kind'>, what: string): void {
  if (device.kind === 'observer') fail('TRY_ERR_INVALID_INPUT', `device ${device.id} is an observer and cannot ${what}`);
}

function fail(code: RegistryErrorCode, message: string): never {
  throw new RegistryError(code, message);
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  // Id fields are the ones whose rules users most often trip over; give them their own code.
  const code: RegistryErrorCode = /(^|\.)(id|\w+Id)$/.test(field) ? 'TRY_ERR_INVALID_ID' : 'TRY_ERR_INVALID_INPUT';
  const got = field === '' ? undefined : (input as Record<string, unknown> | undefined)?.[field];
  const shown = typeof got === 'string' ? ` (got ${JSON.stringify(got.slice(0, 80))})` : '';
  throw new RegistryError(code, `${issue?.message ?? 'invalid input'}${shown}`);
}

function canonicalTimeZone(timeZone: string): string {
  // A fixed offset has no daylight-saving rules, and night-time rules in Norway depend on them.
  if (/^[+-]/.test(timeZone))
    fail('TRY_ERR_INVALID_TIME_ZONE', `time zone ${timeZone} is a fixed offset; use an IANA zone such as Europe/Oslo`);
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone }).resolvedOptions().timeZone;
  } catch (cause) {
    throw new RegistryError(
      'TRY_ERR_INVALID_TIME_ZONE',
      `unknown time zone ${JSON.stringify(timeZone)}; use an IANA zone such as Europe/Oslo`,
      { cause },
    );
  }
}

function isoTime(at: Date): string {
  if (Number.isNaN(at.getTime())) fail('TRY_ERR_INVALID_INPUT', 'invalid date');
  return at.toISOString();
}

function assertNotBeforeHistory(last: string | undefined, when: string, deviceId: string): void {
  if (last !== undefined && when < last) {
    fail(
      'TRY_ERR_ASSIGNMENT_ORDER',
      `device ${deviceId} has assignment history up to ${last}; cannot change it at an earlier time ${when}`,
    );
  }
}

/** Translates SQLite failures into RegistryError at this boundary, keeping the original as `cause`. */
function guard<T>(what: string, fn: () => T, onConstraint?: (code: string) => [RegistryErrorCode, string] | undefined): T {
  try {
    return fn();
  } catch (err) {
    const code = sqliteErrorCode(err);
    if (code === undefined) throw err;
    const mapped = code.startsWith('SQLITE_CONSTRAINT') ? onConstraint?.(code) : undefined;
    if (mapped) throw new RegistryError(mapped[0], mapped[1], { cause: err });
    throw new RegistryError('TRY_ERR_STORAGE', `${what} failed: ${code}`, { cause: err });
  }
}
