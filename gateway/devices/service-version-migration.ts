import type { Migration } from '../db/migrations.js';

// Service accounts move the registry's change counter too (gateway/devices/version-migration.ts): disabling one
// or replacing its secret must cut its open MQTT connection (gateway/devices/credential-watch.ts), and the
// counter is how the running gateway hears of a change made by the CLI in another process. (The ingest
// resolver drops its device cache on these changes as well: rare, and harmless.)
const OPS = ['INSERT', 'UPDATE', 'DELETE'] as const;

export const SERVICE_ACCOUNTS_VERSION_MIGRATION: Migration = {
  version: 12,
  name: 'service-accounts-version',
  up: OPS.map(
    (op) => `CREATE TRIGGER service_accounts_${op.toLowerCase()}_version AFTER ${op} ON service_accounts
      BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;`,
  ).join('\n'),
};
