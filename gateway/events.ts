import { EventEmitter } from 'node:events';
import type { DeviceStatus, Principal } from '../broker/index.js';

// The in-process bus between the gateway's parts. Listeners run synchronously and must not throw; the bus
// isolates each one so a broken listener never stops the others.

export interface GatewayEvents {
  'device-status': [{ principal: Principal; status: DeviceStatus; retained: boolean; at: Date }];
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
