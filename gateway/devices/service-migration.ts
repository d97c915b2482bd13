import type { Migration } from '../db/migrations.js';

// Service accounts: an integration's read-only MQTT account for one team's alerts (broker/acl.ts,
// gateway/delivery/mqtt.ts). Credentials exactly as for devices and observers (a generated `tgs_` secret,
// only its hash stored, gateway/devices/secrets.ts), in a table of their own rather than as a device kind:
// an account has a team and no model, adapter or home, and widening devices.kind again would mean another
// table rebuild.
//
// The account id is the MQTT client id and username, so devices and service accounts share one namespace.
// The registry checks both tables inside its write transaction; the two triggers hold the same line for any
// other writer. (A later migration that rebuilds `devices` drops devices_id_not_a_service_account with the
// table and must recreate it.)
export const SERVICE_ACCOUNTS_MIGRATION: Migration = {
  version: 7,
  name: 'service-accounts',
  up: `
    CREATE TABLE service_accounts (
      id                TEXT PRIMARY KEY,
      team_id           TEXT NOT NULL,
      secret_hash       TEXT NOT NULL,
      enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
      created_at        TEXT NOT NULL,
      secret_rotated_at TEXT
    ) STRICT;

    CREATE INDEX service_accounts_team ON service_accounts (team_id);

    CREATE TRIGGER service_accounts_id_not_a_device BEFORE INSERT ON service_accounts
      WHEN EXISTS (SELECT 1 FROM devices WHERE id = NEW.id)
    BEGIN
      SELECT RAISE(ABORT, 'id is already used by a device');
    END;

    CREATE TRIGGER devices_id_not_a_service_account BEFORE INSERT ON devices
      WHEN EXISTS (SELECT 1 FROM service_accounts WHERE id = NEW.id)
    BEGIN
      SELECT RAISE(ABORT, 'id is already used by a service account');
    END;
  `,
};
