import { z } from 'zod';
import {
  AdapterIdSchema,
  DeviceIdSchema,
  DeviceKindSchema,
  FriendlyNameSchema,
  HomeIdSchema,
  ModelSchema,
  ServiceAccountIdSchema,
  TeamIdSchema,
} from './ids.js';

// The registry's records and inputs. Records never carry secret hashes: those stay inside the store.
// Times are ISO-8601 UTC strings (see gateway/db/migrations.ts).

const IsoTime = z.iso.datetime();

export const HomeSchema = z.object({
  id: HomeIdSchema,
  teamId: TeamIdSchema,
  timeZone: z.string(),
  createdAt: IsoTime,
});

export const AssignmentSchema = z.object({
  homeId: HomeIdSchema,
  validFrom: IsoTime,
  /** null while the assignment is current. */
  validTo: IsoTime.nullable(),
});

export const BridgeChildSchema = z.object({
  bridgeId: DeviceIdSchema,
  friendlyName: FriendlyNameSchema,
  deviceId: DeviceIdSchema,
});

export const DeviceSchema = z.object({
  id: DeviceIdSchema,
  kind: DeviceKindSchema,
  model: ModelSchema,
  adapterId: AdapterIdSchema,
  enabled: z.boolean(),
  createdAt: IsoTime,
  secretRotatedAt: IsoTime.nullable(),
  /** The home of the current assignment, null when the device is in stock. */
  homeId: HomeIdSchema.nullable(),
});

export const DeviceDetailsSchema = DeviceSchema.extend({
  /** Newest first. */
  assignments: z.array(AssignmentSchema),
  /** Present for bridges only. */
  children: z.array(BridgeChildSchema).optional(),
  /** The bridge this device sits behind, if any. */
  parent: BridgeChildSchema.nullable(),
});

export const AddHomeInputSchema = z.object({
  id: HomeIdSchema,
  teamId: TeamIdSchema,
  timeZone: z.string().min(1).default('Europe/Oslo'),
});

export const AddDeviceInputSchema = z.object({
  id: DeviceIdSchema,
  kind: DeviceKindSchema,
  model: ModelSchema,
  adapterId: AdapterIdSchema,
  homeId: HomeIdSchema.optional(),
});

export const ListDevicesFilterSchema = z.object({
  homeId: HomeIdSchema.optional(),
  kind: DeviceKindSchema.optional(),
});

/**
 * An integration's read-only MQTT account for one team's alerts (`tryggheim/v1/alerts/{teamId}/...`,
 * broker/acl.ts). Not a device: no model, no adapter, no home.
 */
export const ServiceAccountSchema = z.object({
  id: ServiceAccountIdSchema,
  teamId: TeamIdSchema,
  enabled: z.boolean(),
  createdAt: IsoTime,
  secretRotatedAt: IsoTime.nullable(),
});

export const AddServiceAccountInputSchema = z.object({
  id: ServiceAccountIdSchema,
  teamId: TeamIdSchema,
});

export const ListServiceAccountsFilterSchema = z.object({
  teamId: TeamIdSchema.optional(),
});

export type Home = z.infer<typeof HomeSchema>;
export type Assignment = z.infer<typeof AssignmentSchema>;
export type BridgeChild = z.infer<typeof BridgeChildSchema>;
export type Device = z.infer<typeof DeviceSchema>;
export type DeviceDetails = z.infer<typeof DeviceDetailsSchema>;
export type AddHomeInput = z.input<typeof AddHomeInputSchema>;
export type AddDeviceInput = z.input<typeof AddDeviceInputSchema>;
export type ListDevicesFilter = z.input<typeof ListDevicesFilterSchema>;
export type ServiceAccount = z.infer<typeof ServiceAccountSchema>;
export type AddServiceAccountInput = z.input<typeof AddServiceAccountInputSchema>;
export type ListServiceAccountsFilter = z.input<typeof ListServiceAccountsFilterSchema>;

export const REGISTRY_ERROR_CODES = [
  'TRY_ERR_INVALID_ID',
  'TRY_ERR_INVALID_INPUT',
  'TRY_ERR_INVALID_TIME_ZONE',
  'TRY_ERR_HOME_NOT_FOUND',
  'TRY_ERR_HOME_EXISTS',
  'TRY_ERR_DEVICE_NOT_FOUND',
  'TRY_ERR_DEVICE_EXISTS',
  'TRY_ERR_NOT_A_BRIDGE',
  'TRY_ERR_BRIDGE_CHILD_EXISTS',
  'TRY_ERR_ASSIGNMENT_ORDER',
  'TRY_ERR_SERVICE_ACCOUNT_NOT_FOUND',
  /** The id is taken, by a service account or by a device (they share the MQTT client id namespace). */
  'TRY_ERR_SERVICE_ACCOUNT_EXISTS',
  'TRY_ERR_STORAGE',
] as const;

export type RegistryErrorCode = (typeof REGISTRY_ERROR_CODES)[number];

/**
 * The one error the registry throws for expected failures (unknown ids, duplicates, bad input). The code
 * is stable for runbooks and tests; the message is one line fit for a CLI. Anything else is a bug.
 */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
