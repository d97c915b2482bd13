import type { LockMethod, LockSimEvent, SimEvent } from '../devices/events.js';
import { bridgeBase } from '../types.js';
import { iso, json, type Encoder, type SimMessage } from './encoder.js';

// `zigbee2mqtt` — a home hub running Zigbee2MQTT 2.x (adapters/README.md § zigbee2mqtt) with
// `mqtt.base_topic: tryggheim/v1/bridges/{bridgeId}`, `advanced.output: json` and `advanced.last_seen:
// ISO_8601`. Quirks reproduced on purpose:
// - a device's message is its WHOLE cached state plus what changed (`action` is never cached);
// - `contact: true` means the magnet is near: the door is CLOSED;
// - lock operations come as `action` + `action_source_name` + `action_user` (the lock's slot number);
// - availability per child on `<friendly_name>/availability` and the hub's own on `bridge/state`, both
//   `{"state":"online"}`, retained.
// Zigbee2MQTT has no field for doses, vitals, bed/chair occupancy, falls, panic buttons or bed exits.

/** zigbee-herdsman-converters `lockSourceName`: ZCL operation event source → (number, name). */
const SOURCES: Partial<Record<LockMethod, readonly [number, string]>> = {
  keypad: [0, 'keypad'],
  app: [1, 'rf'],
  manual: [2, 'manual'],
  rfid: [3, 'rfid'],
};

type State = Record<string, string | number | boolean>;

/** Folds one event into the device's state; returns whether the format could say any of it. */
function apply(s: State, e: SimEvent, live: boolean): boolean {
  switch (e.type) {
    case 'measurement': {
      const r = e.readings;
      let said = false;
      const set = (k: string, v: string | number | boolean | undefined) => {
        if (v !== undefined) [s[k], said] = [v, true];
      };
      set('temperature', r.temperatureC);
      set('humidity', r.humidityPct);
      set('illuminance', r.illuminanceLux);
      set('occupancy', r.motion);
      set('contact', r.doorOpen === undefined ? undefined : !r.doorOpen);
      return said;
    }
    case 'alarm':
      if (e.kind !== 'water_leak' && e.kind !== 'smoke' && e.kind !== 'tamper') return false;
      s[e.kind] = e.state === 'active';
      return true;
    case 'status': {
      let said = false;
      if (e.batteryPct !== undefined) [s.battery, said] = [Math.round(e.batteryPct), true];
      if (e.batteryLow !== undefined) [s.battery_low, said] = [e.batteryLow, true];
      if (e.linkQuality !== undefined) [s.linkquality, said] = [e.linkQuality, true];
      return said;
    }
    case 'lock':
      return applyLock(s, e, live);
    case 'dose':
    case 'vitals':
    case 'availability':
      return false;
  }
}

function applyLock(s: State, e: LockSimEvent, live: boolean): boolean {
  switch (e.kind) {
    case 'locked':
    case 'unlocked': {
      const locked = e.kind === 'locked';
      if (live) {
        const source = e.method !== undefined ? SOURCES[e.method] : undefined;
        s.action =
          e.method === 'auto' ? 'auto_lock' : e.method === 'key' ? (locked ? 'key_lock' : 'key_unlock') : locked ? 'lock' : 'unlock';
        if (source !== undefined) [s.action_source, s.action_source_name] = source;
        if (e.userSlot !== undefined) s.action_user = e.userSlot;
      }
      s.lock_state = locked ? 'locked' : 'unlocked';
      s.state = locked ? 'LOCK' : 'UNLOCK';
      return true;
    }
    case 'failed_attempt': {
      if (!live) return false;
      s.action = 'unlock_failure_invalid_pin_or_id';
      const source = e.method !== undefined ? SOURCES[e.method] : undefined;
      if (source !== undefined) [s.action_source, s.action_source_name] = source;
      return true;
    }
    case 'jammed':
      s.lock_state = 'not_fully_locked';
      return true;
    case 'opened':
    case 'closed':
      s.door_state = e.kind === 'opened' ? 'open' : 'closed';
      return true;
    case 'forced':
      s.door_state = 'error_forced_open';
      return true;
    case 'left_open':
      return false;
  }
}

function deviceState(message: SimMessage): State | undefined {
  const s: State = {};
  for (const e of message.state ?? []) apply(s, e, false);
  let said = false;
  for (const e of message.events) said = apply(s, e, true) || said;
  if (!said) return undefined;
  s.last_seen = iso(message.at);
  // Zigbee2MQTT sorts nothing; a fixed key order keeps the bytes deterministic.
  return Object.fromEntries(Object.entries(s).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const zigbee2mqttEncoder: Encoder = {
  format: 'zigbee2mqtt',
  kinds: ['bridge'],
  encode(spec, message) {
    const base = bridgeBase(spec.id);
    const availability = message.events.find((e) => e.type === 'availability');
    if (availability !== undefined) {
      const topic = message.child !== undefined ? `${base}/${message.child.friendlyName}/availability` : `${base}/bridge/state`;
      return { topic, payload: json({ state: availability.online ? 'online' : 'offline' }), qos: 1, retain: true, counters: 1 };
    }
    if (message.child === undefined) return undefined;
    const state = deviceState(message);
    if (state === undefined) return undefined;
    return { topic: `${base}/${message.child.friendlyName}`, payload: json(state), qos: 1, retain: false, counters: 1 };
  },
};
