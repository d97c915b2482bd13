import type { Connections, OpenClient } from './connections.js';
import type { BrokerLogger } from './log.js';
import type { AccessPolicy, AuthRefusal, AuthResult, CutReason, Principal, RevalidateReport } from './types.js';

// A device is checked at CONNECT only; an account disabled or a secret replaced afterwards would keep its open
// connection until it dropped by itself, so a stolen or decommissioned device could keep publishing. The
// gateway calls `revalidate()` when its registry changed: the policy is asked again, with what each client
// presented at CONNECT, and the clients it now refuses are cut. The broker knows nothing of the registry: the
// policy's own `authenticate` is the whole check, so what admits a client and what keeps it are one rule.

/** Clients checked between two turns of the event loop: a fleet-wide pass must not stall the broker. */
const BATCH = 256;

const CUT_REASON: Record<AuthRefusal, CutReason> = {
  disabled: 'disabled',
  // The same secret was right at CONNECT: the stored one has been replaced.
  bad_secret: 'secret_changed',
  unknown_device: 'removed',
  missing_credentials: 'refused',
  identifier_rejected: 'refused',
};

interface Deps {
  policy: AccessPolicy;
  connections: Connections;
  logger: BrokerLogger;
}

export function createRevalidator({ policy, connections, logger }: Deps): () => Promise<RevalidateReport> {
  /** The reason to cut this client now, or undefined to keep it. Throws when the check itself failed. */
  async function verdict(client: OpenClient): Promise<CutReason | undefined> {
    const { state } = client;
    const result: AuthResult = await policy.authenticate(state.requestedId ?? '', state.credentials?.username, state.credentials?.password);
    if (!result.ok) return CUT_REASON[result.reason];
    return state.principal !== undefined && samePrincipal(state.principal, result.principal) ? undefined : 'principal_changed';
  }

  return async function revalidate(): Promise<RevalidateReport> {
    const clients = connections.authenticatedClients();
    let cut = 0;
    let errors = 0;
    for (const [i, client] of clients.entries()) {
      if (i > 0 && i % BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (client.conn.destroyed) continue;
      try {
        const reason = await verdict(client);
        if (reason !== undefined && connections.cut(client, reason)) cut += 1;
      } catch (err) {
        // A store that cannot answer (busy, gone) is no reason to drop the fleet: keep the client, and let
        // the caller try again.
        errors += 1;
        logger.error({ event: 'mqtt.revalidate_error', deviceId: client.state.principal?.id, err }, 'credential re-check failed');
      }
    }
    return { checked: clients.length, cut, errors };
  };
}

function samePrincipal(a: Principal, b: Principal): boolean {
  if (a.kind !== b.kind || a.id !== b.id) return false;
  return a.kind !== 'service' || (b.kind === 'service' && a.teamId === b.teamId);
}
