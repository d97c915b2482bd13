import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'aedes';
import * as aedesPersistenceModule from 'aedes-persistence';
import levelPersistence from 'aedes-persistence-level';
import { Level } from 'level';

// Sessions and retained messages on disk (docs/adr/002-mqtt-session-persistence.md), wrapped so that two
// aedes behaviours can't reach the store:
// - aedes stores *every* filter of a SUBSCRIBE packet once any of them is allowed, denied ones included;
//   `addSubscriptions` keeps only the filters the policy allows.
// - offline queues are unbounded; `outgoingEnqueueCombi` stops at `maxQueuedPerClient` and counts drops.

interface Sub {
  clientId: string;
  topic: string;
  qos: number;
}

/** The subset of the aedes persistence API the wrapper touches (the rest passes through untouched). */
interface PersistenceLike {
  addSubscriptions(client: Client, subs: Sub[]): Promise<void>;
  outgoingEnqueueCombi(subs: Sub[], packet: unknown): Promise<void>;
  outgoingClearMessageId(client: Client, packet: unknown): Promise<unknown>;
  cleanSubscriptions(client: Client): Promise<unknown>;
  destroy(): Promise<void>;
}

export interface PersistenceGuards {
  maySubscribe(client: Client, filter: string): boolean;
  maxQueuedPerClient: number;
  onDrop(clientId: string, count: number): void;
  onDeniedFilterStoreAttempt(client: Client, filter: string): void;
}

export function createPersistence(kind: 'level' | 'memory', dataDir: string, guards: PersistenceGuards): PersistenceLike {
  let inner: PersistenceLike;
  if (kind === 'level') {
    const dir = join(dataDir, 'mqtt-sessions');
    mkdirSync(dir, { recursive: true });
    inner = levelPersistence(new Level(dir)) as PersistenceLike;
  } else {
    // CommonJS module whose typings declare a namespace; the default export is the factory.
    const factory = (aedesPersistenceModule as unknown as { default: () => unknown }).default;
    inner = factory() as PersistenceLike;
  }
  const queued = new Map<string, number>();

  const overrides: Partial<PersistenceLike> = {
    addSubscriptions(client, subs) {
      const allowed = subs.filter((s) => {
        const ok = guards.maySubscribe(client, s.topic);
        if (!ok) guards.onDeniedFilterStoreAttempt(client, s.topic);
        return ok;
      });
      return inner.addSubscriptions(client, allowed);
    },
    outgoingEnqueueCombi(subs, packet) {
      const keep: Sub[] = [];
      for (const s of subs) {
        const n = queued.get(s.clientId) ?? 0;
        if (n >= guards.maxQueuedPerClient) {
          guards.onDrop(s.clientId, 1);
          continue;
        }
        queued.set(s.clientId, n + 1);
        keep.push(s);
      }
      return keep.length === subs.length ? inner.outgoingEnqueueCombi(subs, packet) : inner.outgoingEnqueueCombi(keep, packet);
    },
    outgoingClearMessageId(client, packet) {
      const n = queued.get(client.id);
      if (n !== undefined) {
        if (n <= 1) queued.delete(client.id);
        else queued.set(client.id, n - 1);
      }
      return inner.outgoingClearMessageId(client, packet);
    },
    cleanSubscriptions(client) {
      queued.delete(client.id);
      return inner.cleanSubscriptions(client);
    },
  };

  // A Proxy rather than a subclass: the level store is a CallBackPersistence built by a factory, and aedes
  // checks that `setup` is an async function, which a bound method still is.
  // Bound once per method, not on every access: aedes calls the store on every QoS 1 publish.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const own = (overrides as Record<PropertyKey, unknown>)[prop];
      if (own !== undefined) return own;
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      let fn = bound.get(prop);
      if (fn === undefined) {
        fn = (value as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, fn);
      }
      return fn;
    },
  });
}
