import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAlerting, type Alerting } from '../../../gateway/alerting.js';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import { openDatabase, type Database } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry, type DeviceRegistry } from '../../../gateway/devices/registry.js';
import { createEventBus } from '../../../gateway/events.js';
import { createLogger } from '../../../gateway/log.js';
import { virtualClock, type VirtualClock } from '../../../simulators/clock.js';
import { HOUR, MIN, T0 } from './fixture.js';

// The gateway's outbox wiring (gateway/alerting.ts): the configured channels' cursors are opened at start, and
// old delivered rows are pruned on the gateway's clock. A real SQLite file; the clock is the simulators' virtual
// (fake) clock, advanced by the test.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups.length = 0;
});

interface World {
  db: Database;
  registry: DeviceRegistry;
  clock: VirtualClock;
}

function world(): World {
  const dir = mkdtempSync(join(tmpdir(), 'tryggheim-outbox-'));
  const db = openDatabase(join(dir, 'tryggheim.sqlite'));
  cleanups.push(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = virtualClock(T0);
  const registry = createDeviceRegistry({ db, now: () => new Date(clock.now()) });
  registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  return { db, registry, clock };
}

function start(w: World, channels: readonly string[]): Alerting {
  const alerting = startAlerting({
    db: w.db,
    clock: w.clock,
    registry: w.registry,
    bus: createEventBus(() => undefined),
    logger: createLogger({ level: 'silent' }),
    rules: [],
    channels,
    outboxRetentionMs: HOUR,
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= alerting.close());
  cleanups.push(close);
  return { ...alerting, close };
}

const lowAlert = (clock: VirtualClock, subject: string): AlertSignal => ({
  action: 'raise',
  rule: 'low-battery',
  homeId: 'home-0001',
  subject,
  severity: 'low',
  kind: 'technical',
  title: 'Battery low',
  at: clock.now(),
  evidence: [],
});

describe('the gateway and its outbox', () => {
  it('prunes old rows every configured channel delivered, keeps the ones still pending; a channel added later starts at the end', async () => {
    const w = world();
    const first = start(w, ['webhook-north']);
    for (const s of ['d-1', 'd-2', 'd-3']) first.apply(lowAlert(w.clock, s));
    // Opened at start, before these alerts: all three are pending for it.
    expect(first.alerts.pendingOutbox('webhook-north').map((e) => e.id)).toEqual([1, 2, 3]);
    first.alerts.markDelivered('webhook-north', [1, 2]);

    // The first run, a minute after start, found nothing old enough; the next comes an hour after it.
    await w.clock.waitUntil(T0 + HOUR);
    expect(first.alerts.oldestOutboxId()).toBe(1);
    await w.clock.waitUntil(T0 + HOUR + 2 * MIN);
    expect(first.alerts.oldestOutboxId()).toBe(3);
    expect(first.alerts.pendingOutbox('webhook-north').map((e) => e.id)).toEqual([3]);
    await first.close();

    // A restart with a webhook added: it does not get the history; the existing one keeps what it has pending.
    const second = start(w, ['webhook-north', 'webhook-late']);
    second.apply(lowAlert(w.clock, 'd-4'));
    expect(second.alerts.pendingOutbox('webhook-late').map((e) => e.id)).toEqual([4]);
    expect(second.alerts.pendingOutbox('webhook-north').map((e) => e.id)).toEqual([3, 4]);
  });
});
