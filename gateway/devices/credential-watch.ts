import type { RevalidateReport } from '../../broker/types.js';
import type { Database } from '../db/sqlite.js';
import type { Logger } from '../log.js';

// Cuts the open MQTT connection of a device or service account that was disabled or given a new secret, by
// the HTTP API or by `tryggheim devices|service-accounts …` in another process. The broker checks credentials
// at CONNECT only; this watch notices that the registry changed and has the broker ask its policy again for
// every connected client (`BrokerHandle.revalidate`), which cuts those now refused.
//
// The signal is the `registry_version` counter the ingest resolver also watches: triggers on devices,
// assignments, bridge children and service accounts move it, whoever wrote (gateway/devices/version-migration.ts,
// service-version-migration.ts). It is read from the gateway's own connection, which sees other processes'
// commits (WAL, no open transaction), once a second, and a pass runs only when it moved.

const DEFAULT_INTERVAL_MS = 1000;

export interface CredentialWatchDeps {
  readonly db: Database;
  readonly revalidate: () => Promise<RevalidateReport>;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  readonly intervalMs?: number;
}

export interface CredentialWatch {
  /** Stops the watch; waits for a pass under way. */
  close(): Promise<void>;
}

export function watchCredentials(deps: CredentialWatchDeps): CredentialWatch {
  const intervalMs = deps.intervalMs ?? DEFAULT_INTERVAL_MS;
  const versionStmt = deps.db.prepare<[], number>('SELECT version FROM registry_version WHERE id = 1').pluck();
  const signal = (): number => versionStmt.get() ?? 0;

  let seen = signal();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();

  async function check(): Promise<void> {
    const current = signal();
    if (current === seen) return;
    const report = await deps.revalidate();
    // A check that could not be made is made again at the next tick, not forgotten.
    if (report.errors === 0) seen = current;
    if (report.cut > 0 || report.errors > 0) {
      deps.logger.info({ event: 'gateway.credentials_rechecked', ...report }, 'connected clients re-checked after a registry change');
    }
  }

  function schedule(): void {
    if (stopped) return;
    // A timeout after each pass, not an interval: passes never overlap, however long one takes.
    timer = setTimeout(() => {
      pass = check()
        .catch((err: unknown) => {
          // The signal stays unseen, so the next tick tries again.
          deps.logger.warn({ event: 'gateway.credential_watch_error', err }, 'registry change check failed; retrying');
        })
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  schedule();
  return {
    async close() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
