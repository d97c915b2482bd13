import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EscalationPolicyInput } from '../../../gateway/alerts/escalation.js';
import { AlertError, type AlertErrorCode } from '../../../gateway/alerts/model.js';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import { createAlertStore, type AlertStore } from '../../../gateway/alerts/store.js';
import { openDatabase, type Database } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';

// A real SQLite file in a temp dir, two synthetic homes in two teams, and a clock the test moves by hand.

export const T0 = Date.parse('2026-03-10T08:00:00.000Z');
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export interface Fixture {
  dir: string;
  db: Database;
  store: AlertStore;
  clock: { now: number };
  signal: (over?: Partial<AlertSignal>) => AlertSignal;
  close: () => void;
}

export function setup(policy?: EscalationPolicyInput): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'tryggheim-alerts-'));
  const db = openDatabase(join(dir, 'tryggheim.sqlite'));
  const clock = { now: T0 };
  const registry = createDeviceRegistry({ db, now: () => new Date(clock.now) });
  registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  registry.addHome({ id: 'home-0002', teamId: 'team-south' });
  let n = 0;
  const store = createAlertStore({ db, now: () => clock.now, policy, newId: () => `al-${String(++n).padStart(4, '0')}` });
  const signal = (over: Partial<AlertSignal> = {}): AlertSignal => ({
    action: 'raise',
    rule: 'fall',
    homeId: 'home-0001',
    subject: 'sensor-0001',
    severity: 'critical',
    kind: 'care',
    title: 'Fall detected',
    at: clock.now,
    evidence: [],
    ...over,
  });
  return {
    dir,
    db,
    store,
    clock,
    signal,
    close: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function errorCode(fn: () => unknown): AlertErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof AlertError) return err.code;
    throw err;
  }
  throw new Error('expected an AlertError');
}

export const iso = (ms: number) => new Date(ms).toISOString();
