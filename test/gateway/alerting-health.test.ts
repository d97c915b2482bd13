import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/main.js';
import { virtualClock, type VirtualClock } from '../../simulators/clock.js';
import { removeDir, startTestGateway } from '../support/gateway.js';

// The gateway's own health as alerts for the ops team (gateway/alerting.ts), and the escalation policy taken
// from the configuration. The health events are emitted on the gateway's real bus, as the ingest emits them.

const T0 = Date.parse('2026-03-10T10:00:00Z');
const MIN = 60_000;
let gw: Gateway & { dataDir: string; mqttPort: number };
let clock: VirtualClock;

beforeAll(async () => {
  clock = virtualClock(T0);
  gw = await startTestGateway(
    { alerts: { influxDownMinutes: 3, escalation: { ackMinutes: { high: 7 }, opsTeamId: 'team-ops' } } },
    { clock },
  );
}, 30_000);

afterAll(async () => {
  await gw.close();
  removeDir(gw.dataDir);
});

const health = () => gw.alerting.alerts.list({ state: 'all' }).filter((a) => a.rule === 'gateway-health');

describe('gateway health alerts', () => {
  it('InfluxDB unreachable raises only after influxDownMinutes, for the ops team; reachable again clears it', async () => {
    gw.events.emit('gateway-health', { check: 'influx', state: 'unreachable', detail: {}, at: new Date(clock.now()) });
    await clock.waitUntil(T0 + 3 * MIN - 1);
    expect(health()).toEqual([]);
    await clock.waitUntil(T0 + 3 * MIN);
    expect(health()).toMatchObject([
      { subject: 'influxdb', teamId: 'team-ops', homeId: null, kind: 'technical', severity: 'high', state: 'active' },
    ]);
    // The configured acknowledge deadline for high: 7 minutes.
    expect(Date.parse(health()[0]?.ackDueAt ?? '')).toBe(T0 + 10 * MIN);
    gw.events.emit('gateway-health', { check: 'influx', state: 'ok', detail: {}, at: new Date(clock.now()) });
    expect(health()).toMatchObject([{ subject: 'influxdb', state: 'cleared' }]);
  });

  it('a short InfluxDB outage raises nothing', async () => {
    const before = health().length;
    gw.events.emit('gateway-health', { check: 'influx', state: 'unreachable', detail: {}, at: new Date(clock.now()) });
    await clock.waitUntil(clock.now() + 2 * MIN);
    gw.events.emit('gateway-health', { check: 'influx', state: 'ok', detail: {}, at: new Date(clock.now()) });
    await clock.waitUntil(clock.now() + 5 * MIN);
    expect(health().length).toBe(before);
    expect(health().every((a) => a.count === 1)).toBe(true);
  });

  it('the journal near its cap raises at once, over the cap becomes critical, below the warning level clears', () => {
    gw.events.emit('gateway-health', { check: 'journal', state: 'near_cap', detail: {}, at: new Date(clock.now()) });
    const journal = () => health().find((a) => a.subject === 'journal');
    expect(journal()).toMatchObject({ severity: 'high', state: 'active' });
    gw.events.emit('gateway-health', { check: 'journal', state: 'over_cap', detail: {}, at: new Date(clock.now()) });
    expect(journal()).toMatchObject({ severity: 'critical', state: 'active', count: 2 });
    gw.events.emit('gateway-health', { check: 'journal', state: 'ok', detail: {}, at: new Date(clock.now()) });
    expect(journal()).toMatchObject({ state: 'cleared' });
  });
});
