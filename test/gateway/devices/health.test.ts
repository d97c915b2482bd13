import { describe, expect, it } from 'vitest';
import type { CanonicalEvent, EventBody } from '../../../adapters/canonical.js';
import { createEventBus } from '../../../gateway/events.js';
import { createHealthIndex, UNKNOWN_HEALTH } from '../../../gateway/devices/health.js';

// The in-memory device health index: fed from the bus (broker status, canonical events), read by the device and
// home routes. Replayed (older) events never move it backwards.

const T0 = Date.parse('2026-03-10T08:00:00.000Z');
let n = 0;
function event(deviceId: string, body: EventBody, at: number, homeId: string | null = 'home-1'): CanonicalEvent {
  n += 1;
  return {
    eventId: n.toString(16).padStart(32, '0'),
    deviceId,
    homeId,
    adapter: { id: 'tryggheim', version: 1 },
    observedAt: new Date(at).toISOString(),
    receivedAt: new Date(at).toISOString(),
    body,
  };
}

describe('createHealthIndex', () => {
  it('knows nothing of a device it has not heard from', () => {
    expect(createHealthIndex().device('d-1')).toEqual(UNKNOWN_HEALTH);
  });

  it('takes online/offline from the broker and last seen, battery and firmware from events; the home its last event', () => {
    const bus = createEventBus((_e, err) => {
      throw err;
    });
    const health = createHealthIndex();
    const off = health.attach(bus);
    bus.emit('device-status', { principal: { kind: 'device', id: 'd-1' }, status: 'online', retained: true, at: new Date(T0) });
    bus.emit('events', [event('d-1', { type: 'measurement', readings: { temperature_c: 21 } }, T0 + 60_000)]);
    bus.emit('events', [event('d-1', { type: 'status', status: { battery_pct: 14, battery_low: true, firmware: '3.1' } }, T0 + 120_000)]);
    expect(health.device('d-1')).toEqual({
      online: true,
      statusAt: new Date(T0).toISOString(),
      lastSeenAt: new Date(T0 + 120_000).toISOString(),
      batteryPct: 14,
      batteryLow: true,
      firmware: '3.1',
    });
    expect(health.homeLastEventAt('home-1')).toBe(new Date(T0 + 120_000).toISOString());
    expect(health.homeLastEventAt('home-2')).toBeNull();

    // The last will: offline, last seen unchanged. A status word that is neither is ignored.
    bus.emit('device-status', { principal: { kind: 'device', id: 'd-1' }, status: 'offline', retained: false, at: new Date(T0 + 180_000) });
    bus.emit('device-status', {
      principal: { kind: 'device', id: 'd-1' },
      status: 'sleeping',
      retained: false,
      at: new Date(T0 + 190_000),
    });
    expect(health.device('d-1')).toMatchObject({
      online: false,
      statusAt: new Date(T0 + 180_000).toISOString(),
      lastSeenAt: new Date(T0 + 120_000).toISOString(),
    });

    off();
    bus.emit('device-status', { principal: { kind: 'device', id: 'd-1' }, status: 'online', retained: false, at: new Date(T0 + 240_000) });
    expect(health.device('d-1').online).toBe(false);
  });

  it("does not go back in time for a replayed event, and takes a hub child's availability from its status event", () => {
    const health = createHealthIndex();
    health.onEvents([event('child-1', { type: 'status', status: { online: false, battery_pct: 50 } }, T0)]);
    health.onEvents([event('child-1', { type: 'status', status: { online: true, battery_pct: 90 } }, T0 - 60_000)]);
    expect(health.device('child-1')).toMatchObject({ online: false, batteryPct: 50, lastSeenAt: new Date(T0).toISOString() });
  });

  it('takes a battery report received before a late broker status (a retained status is reported once stored)', () => {
    const health = createHealthIndex();
    health.onEvents([event('d-2', { type: 'status', status: { battery_pct: 11 } }, T0)]);
    health.onStatus('d-2', 'online', T0 + 50);
    health.onEvents([event('d-2', { type: 'status', status: { battery_pct: 10, firmware: '2.0' } }, T0 + 20)]);
    expect(health.device('d-2')).toMatchObject({
      online: true,
      batteryPct: 10,
      firmware: '2.0',
      lastSeenAt: new Date(T0 + 50).toISOString(),
    });
  });

  it('keeps at most maxDevices and counts the rest', () => {
    const health = createHealthIndex({ maxDevices: 2 });
    health.onStatus('a', 'online', T0);
    health.onStatus('b', 'online', T0);
    health.onStatus('c', 'online', T0);
    expect(health.device('c')).toEqual(UNKNOWN_HEALTH);
    expect(health.stats()).toEqual({ devices: 2, untracked: 1 });
  });
});
