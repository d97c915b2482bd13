import { EventEmitter } from 'node:events';
import type { CanonicalEvent } from '../adapters/canonical.js';
import type { DeviceStatus, Principal } from '../broker/index.js';

// The in-process bus between the gateway's parts. Listeners run synchronously and must not throw; the bus
// isolates each one so a broken listener never stops the others.

export interface GatewayHealthEvent {
  check: 'journal' | 'influx';
  state: 'ok' | 'near_cap' | 'over_cap' | 'unreachable';
  detail: Record<string, unknown>;
  at: Date;
}

export interface GatewayEvents {
  'device-status': [{ principal: Principal; status: DeviceStatus; retained: boolean; at: Date }];
  /** Canonical events of a chunk of journaled messages (one rules-pass turn), in journal order. At least once. */
  events: [readonly CanonicalEvent[]];
  'gateway-health': [GatewayHealthEvent];
}

export interface EventBus {
  on<K extends keyof GatewayEvents>(event: K, listener: (...args: GatewayEvents[K]) => void): () => void;
  emit<K extends keyof GatewayEvents>(event: K, ...args: GatewayEvents[K]): void;
}

export function createEventBus(onListenerError: (event: string, err: unknown) => void): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(100);
  return {
    on(event, listener) {
      const safe = (...args: unknown[]): void => {
        try {
          (listener as (...a: unknown[]) => void)(...args);
        } catch (err) {
          onListenerError(event, err);
        }
      };
      emitter.on(event, safe);
      return () => emitter.off(event, safe);
    },
    emit(event, ...args) {
      emitter.emit(event, ...args);
    },
  };
}
