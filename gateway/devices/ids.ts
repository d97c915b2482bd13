import { z } from 'zod';

/*
 * Ids travel in MQTT topics (`tryggheim/v1/devices/{deviceId}/up`), logs and metrics, and outlive the
 * patient a device happens to serve. So they are opaque and topic-safe: no `/`, `+`, `#`, spaces or
 * upper case, and never a name, a birth date or an address. The pattern cannot detect personal data;
 * it keeps ids short and machine-looking so that nobody is tempted to use them for it.
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{2,63}$/;

const ID_RULE = "3–64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";

function opaqueId(what: string) {
  return z.string().regex(ID_PATTERN, { error: `${what} id must be ${ID_RULE}` });
}

export const DeviceIdSchema = opaqueId('device');
export const HomeIdSchema = opaqueId('home');
export const TeamIdSchema = opaqueId('team');
/**
 * An integration's MQTT account (gateway/devices/service-migration.ts). It is the MQTT client id and username,
 * so it shares one namespace with device ids: the registry refuses an id that either already uses.
 */
export const ServiceAccountIdSchema = opaqueId('service account');
/** Names an entry in adapters/registry; same shape as the other ids so it can appear in metric labels. */
export const AdapterIdSchema = opaqueId('adapter');

/**
 * `observer` is not a device: it is a read-only MQTT account for a technician's recorder (`tryggheim sim
 * record`). It lives in the registry so it gets a generated secret, rotation and disabling like any device;
 * the broker lets it subscribe to device and bridge traffic and never publish (broker/acl.ts).
 */
export const DeviceKindSchema = z.enum(['dispenser', 'lock', 'sensor', 'vitals', 'bridge', 'observer']);

/**
 * The name a hub gives a child (Zigbee2MQTT's `friendly_name`, by default the IEEE address such as
 * `0x00158d0001a2b3c4`). It appears in the bridge's topics, so the same topic-safety applies; case is kept
 * because hubs report it as they have it. Installers should keep the hub's default, never a room or person.
 */
export const FriendlyNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, { error: "friendly name must be 1–64 characters: letters, digits, '.', '_', ':' or '-'" });

/** Vendor model string, free text but bounded and single-line (it is printed in tables and logs). */
export const ModelSchema = z
  .string()
  .min(1, { error: 'model must not be empty' })
  .max(128, { error: 'model must be at most 128 characters' })
  .regex(/^[^\p{Cc}]+$/u, { error: 'model must not contain control characters' });

export type DeviceId = z.infer<typeof DeviceIdSchema>;
export type HomeId = z.infer<typeof HomeIdSchema>;
export type TeamId = z.infer<typeof TeamIdSchema>;
export type ServiceAccountId = z.infer<typeof ServiceAccountIdSchema>;
export type AdapterId = z.infer<typeof AdapterIdSchema>;
export type DeviceKind = z.infer<typeof DeviceKindSchema>;
export type FriendlyName = z.infer<typeof FriendlyNameSchema>;
