import { mayPublish, mayReceive, maySubscribe } from './acl.js';
import type { AccessPolicy, Authenticator } from './types.js';

/**
 * The production policy: username = clientId = device id, the password is the device secret, and the
 * topic rules of acl.ts. Deny by default: anything not explicitly allowed is refused.
 */
export function devicePolicy(authenticator: Authenticator): AccessPolicy {
  return {
    name: 'devices',
    authenticate(clientId, username, password) {
      if (username === undefined || username === '' || password === undefined || password.length === 0) {
        return { ok: false, reason: 'missing_credentials' };
      }
      // [DESIGN: username = clientId = deviceId] a device cannot borrow another's session.
      if (username !== clientId) return { ok: false, reason: 'identifier_rejected' };
      return authenticator(username, password);
    },
    canPublish: mayPublish,
    canSubscribe: maySubscribe,
    canReceive: mayReceive,
  };
}

/**
 * For protocol-robustness tests only: admits any client, anonymous too, so that packets after CONNECT are
 * exercised. `$` topics stay closed. Never wired into the gateway.
 */
export function openTestPolicy(): AccessPolicy {
  return {
    name: 'open-test',
    authenticate: (clientId) => ({ ok: true, principal: { kind: 'test', id: clientId } }),
    canPublish: mayPublish,
    canSubscribe: maySubscribe,
    canReceive: mayReceive,
  };
}
