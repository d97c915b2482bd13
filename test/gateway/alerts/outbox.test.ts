import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PENDING_SQL } from '../../../gateway/alerts/sql.js';
import { createAlertStore } from '../../../gateway/alerts/store.js';
import { ConfigError, loadConfig } from '../../../gateway/config/load.js';
import { MIGRATIONS } from '../../../gateway/db/migrations.js';
import { openDatabase, schemaVersion, type Database } from '../../../gateway/db/sqlite.js';
import { HOUR, T0, errorCode, setup, type Fixture } from './fixture.js';

// The outbox's per-channel cursors and its pruning (gateway/alerts/outbox.ts, migration 11), on a real SQLite
// file. The fixture's clock is a fake one the tests move by hand.

const DAY = 24 * HOUR;

let f: Fixture;

beforeEach(() => {
  f = setup();
});

afterEach(() => {
  f.close();
});

/** Raises `n` new alerts (one outbox entry each) at the fake clock's time; returns their outbox ids. */
function raise(n: number): number[] {
  const before = f.store.lastOutboxId();
  for (let i = 0; i < n; i++) f.store.apply(f.signal({ subject: `sensor-${before + i + 1}`, severity: 'low' }));
  return Array.from({ length: n }, (_, i) => before + i + 1);
}

const pendingIds = (channel: string, limit = 100) => f.store.pendingOutbox(channel, limit).map((e) => e.id);
const cursorOf = (channel: string) =>
  f.db.prepare('SELECT delivered_through FROM alert_outbox_cursors WHERE channel = ?').pluck().get(channel) as number | undefined;
const outboxIds = () => f.db.prepare('SELECT id FROM alert_outbox ORDER BY id').pluck().all() as number[];
const deliveryRows = () => f.db.prepare('SELECT count(*) FROM alert_outbox_deliveries').pluck().get() as number;

describe('outbox cursors', () => {
  it('advance over the contiguous delivered prefix only, whatever order entries are delivered in', () => {
    f.store.openOutboxCursors(['mqtt']);
    raise(5);
    expect(cursorOf('mqtt')).toBe(0);

    // MQTT marks one team's events while another team's list is retried: 2 and 3 before 1.
    expect(f.store.markDelivered('mqtt', [2, 3])).toBe(2);
    expect(cursorOf('mqtt')).toBe(0);
    expect(pendingIds('mqtt')).toEqual([1, 4, 5]);

    f.store.markDelivered('mqtt', [1]);
    expect(cursorOf('mqtt')).toBe(3);
    expect(pendingIds('mqtt')).toEqual([4, 5]);

    f.store.markDelivered('mqtt', [5]);
    expect(cursorOf('mqtt')).toBe(3);
    expect(pendingIds('mqtt')).toEqual([4]);

    // Marking again is idempotent and never moves the cursor back.
    expect(f.store.markDelivered('mqtt', [4, 4, 1])).toBe(1);
    expect(cursorOf('mqtt')).toBe(5);
    expect(pendingIds('mqtt')).toEqual([]);

    raise(1);
    expect(pendingIds('mqtt')).toEqual([6]);
  });

  it('are per channel, and a refused batch moves nothing', () => {
    f.store.openOutboxCursors(['mqtt', 'webhook-north']);
    raise(3);
    f.store.markDelivered('webhook-north', [1, 2]);
    expect(errorCode(() => f.store.markDelivered('mqtt', [1, 999]))).toBe('TRY_ERR_ALERT_OUTBOX_UNKNOWN');
    expect(cursorOf('mqtt')).toBe(0);
    expect(cursorOf('webhook-north')).toBe(2);
    expect(pendingIds('mqtt')).toEqual([1, 2, 3]);
    expect(pendingIds('webhook-north')).toEqual([3]);
  });

  it('a channel seen for the first time starts at the end of the outbox, not with its history', () => {
    raise(3);
    expect(cursorOf('webhook-new')).toBeUndefined();
    expect(pendingIds('webhook-new')).toEqual([]);
    expect(cursorOf('webhook-new')).toBe(3);
    raise(2);
    expect(pendingIds('webhook-new')).toEqual([4, 5]);

    // Opening at start-up does the same, and leaves an existing cursor alone.
    f.store.openOutboxCursors(['webhook-new', 'webhook-other']);
    expect(cursorOf('webhook-new')).toBe(3);
    expect(cursorOf('webhook-other')).toBe(5);
    expect(errorCode(() => f.store.openOutboxCursors(['Bad Channel']))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
  });

  it("a poll does not read the channel's delivered history", () => {
    f.store.openOutboxCursors(['webhook-north']);
    raise(300);
    for (let batch = 0; batch < 3; batch++) f.store.markDelivered('webhook-north', pendingIds('webhook-north'));
    expect(cursorOf('webhook-north')).toBe(300);

    // Below the cursor, delivery rows are not consulted at all: with them gone the history still is not pending
    // (a query checking every row from the first, as before, would return 100 entries here).
    f.db.prepare('DELETE FROM alert_outbox_deliveries WHERE channel = ?').run('webhook-north');
    expect(pendingIds('webhook-north')).toEqual([]);
    raise(1);
    expect(pendingIds('webhook-north')).toEqual([301]);

    // And SQLite seeks to the cursor by the primary key instead of scanning the outbox from its first row.
    const plan = f.db.prepare(`EXPLAIN QUERY PLAN ${PENDING_SQL}`).all({ channel: 'webhook-north', after: 300, limit: 100 }) as {
      detail: string;
    }[];
    const details = plan.map((p) => p.detail);
    expect(details).toContainEqual(expect.stringMatching(/^SEARCH o USING INTEGER PRIMARY KEY \(rowid>\?\)/));
    expect(details.filter((d) => d.startsWith('SCAN'))).toEqual([]);
  });
});

describe('migration 11 on an existing database', () => {
  it('gives every channel that delivered before a cursor at its first undelivered entry: nothing pending is skipped', () => {
    const path = join(f.dir, 'upgraded.sqlite');
    const v10 = openDatabase(path, { migrations: MIGRATIONS.filter((m) => m.version <= 10) });
    expect(schemaVersion(v10)).toBe(10);
    seedVersion10Outbox(v10, 6, {
      mqtt: [1, 2, 3, 5], // 4 and 6 pending
      'webhook-all': [1, 2, 3, 4, 5, 6],
      'webhook-stuck': [2], // 1 pending: its receiver refused it
    });
    v10.close();

    const db = openDatabase(path, { migrations: MIGRATIONS.filter((m) => m.version <= 11) });
    try {
      expect(schemaVersion(db)).toBe(11);
      const cursors = db.prepare('SELECT channel, delivered_through FROM alert_outbox_cursors ORDER BY channel').raw().all();
      expect(cursors).toEqual([
        ['mqtt', 3],
        ['webhook-all', 6],
        ['webhook-stuck', 0],
      ]);
      const store = createAlertStore({ db, now: () => T0 + DAY });
      const pending = (channel: string) => store.pendingOutbox(channel).map((e) => e.id);
      expect(pending('mqtt')).toEqual([4, 6]);
      expect(pending('webhook-all')).toEqual([]);
      expect(pending('webhook-stuck')).toEqual([1, 3, 4, 5, 6]);
      // A channel that never delivered anything counts as new.
      expect(pending('webhook-added')).toEqual([]);
      expect(store.pendingOutbox('mqtt')[0]).toMatchObject({ id: 4, teamId: 'team-north', severity: 'low' });
    } finally {
      db.close();
    }
  });
});

describe('pruneOutbox', () => {
  const configured = ['mqtt', 'webhook-north'];
  const retention = 30 * DAY;
  const prune = (limit?: number) => f.store.pruneOutbox(new Date(f.clock.now - retention), configured, limit);

  it('deletes old entries every configured channel delivered, keeps what any still has pending and what is young', () => {
    f.store.openOutboxCursors([...configured, 'webhook-removed']);
    raise(6);
    f.store.markDelivered('mqtt', [1, 2, 3, 4, 5, 6]);
    f.store.markDelivered('webhook-north', [1, 2, 3, 5]); // 4 is pending for it (a failing receiver)
    f.clock.now += retention + DAY;
    raise(1); // 7: young
    f.store.markDelivered('mqtt', [7]);
    expect(deliveryRows()).toBe(11);

    // 1–3: deleted with their delivery rows. 4: pending for webhook-north, kept whatever its age, and with it
    // everything after it (5 and 6 are old and delivered by both, but what is kept stays one unbroken run).
    // webhook-removed (no longer configured) holds nothing back.
    expect(prune()).toBe(3);
    expect(outboxIds()).toEqual([4, 5, 6, 7]);
    expect(deliveryRows()).toBe(5);
    expect(pendingIds('webhook-north')).toEqual([4, 6, 7]);
    expect(pendingIds('mqtt')).toEqual([]);
    expect(prune()).toBe(0);

    f.store.markDelivered('webhook-north', [4]);
    expect(prune()).toBe(2);
    expect(outboxIds()).toEqual([6, 7]);

    f.store.markDelivered('webhook-north', [6, 7]);
    expect(prune()).toBe(1);
    // 7 is delivered everywhere but younger than the retention.
    expect(outboxIds()).toEqual([7]);
    expect(f.store.oldestOutboxId()).toBe(7);

    // An entry that is gone cannot be marked (a caller bug, as for an id that never existed).
    expect(errorCode(() => f.store.markDelivered('mqtt', [2]))).toBe('TRY_ERR_ALERT_OUTBOX_UNKNOWN');
  });

  it('works in bounded batches, and a configured channel that has not asked yet holds nothing back', () => {
    f.store.openOutboxCursors(['mqtt']);
    raise(5);
    f.store.markDelivered('mqtt', [1, 2, 3, 4, 5]);
    f.clock.now += retention + DAY;
    // webhook-north has no cursor: when it asks it starts at the end, so none of these would ever be sent to it.
    expect([prune(2), prune(2), prune(2), prune(2)]).toEqual([2, 2, 1, 0]);
    expect(outboxIds()).toEqual([]);
    expect(f.store.oldestOutboxId()).toBeUndefined();

    // Ids are never reused after pruning (AUTOINCREMENT), and the outbox's end is still known when it is empty.
    expect(f.store.lastOutboxId()).toBe(5);
    expect(pendingIds('webhook-north')).toEqual([]);
    expect(cursorOf('webhook-north')).toBe(5);
    raise(1);
    expect(outboxIds()).toEqual([6]);
    expect(pendingIds('webhook-north')).toEqual([6]);
  });

  it('refuses bad input', () => {
    expect(errorCode(() => f.store.pruneOutbox(new Date(Number.NaN), []))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
    expect(errorCode(() => f.store.pruneOutbox(new Date(T0), ['Bad Channel']))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
    expect(errorCode(() => f.store.pruneOutbox(new Date(T0), [], 0))).toBe('TRY_ERR_ALERT_INVALID_INPUT');
  });
});

describe('alerts.outboxRetentionDays', () => {
  it('defaults to 30 days, and a bad value names the setting', () => {
    expect(loadConfig({ env: {} }).alerts.outboxRetentionDays).toBe(30);
    expect(loadConfig({ env: { TRYGGHEIM_ALERTS__OUTBOX_RETENTION_DAYS: '7' } }).alerts.outboxRetentionDays).toBe(7);
    for (const bad of ['0', '1.5', 'month']) {
      let problems: readonly string[] = [];
      try {
        loadConfig({ env: { TRYGGHEIM_ALERTS__OUTBOX_RETENTION_DAYS: bad } });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems = err.problems;
      }
      expect(problems).toEqual([expect.stringMatching(/^alerts\.outboxRetentionDays: /)]);
    }
  });
});

/**
 * An outbox as a version-10 gateway left it: one alert, `entries` transitions each with its outbox row, created
 * at T0, and the given delivery rows per channel. Written with plain SQL: the store needs the version-11 schema.
 */
function seedVersion10Outbox(db: Database, entries: number, delivered: Record<string, number[]>): void {
  const at = new Date(T0).toISOString();
  db.prepare(
    `INSERT INTO alerts (id, home_id, team_id, rule, subject, kind, severity, title, state, raised_at, last_seen_at, count,
       ack_due_at, follow_up_due_at)
     VALUES ('al-0001', 'home-0001', 'team-north', 'fall', 'sensor-0001', 'care', 'low', 'Fall detected', 'active', ?, ?, 1, ?, ?)`,
  ).run(at, at, at, at);
  const transition = db.prepare(
    `INSERT INTO alert_transitions (alert_id, type, at, actor, severity) VALUES ('al-0001', 'deduped', ?, 'rule:fall', 'low')`,
  );
  const outbox = db.prepare(
    `INSERT INTO alert_outbox (transition_id, team_id, severity, created_at, payload) VALUES (?, 'team-north', 'low', ?, ?)`,
  );
  for (let i = 0; i < entries; i++) {
    const id = Number(transition.run(at).lastInsertRowid);
    const payload = { transition: { id, type: 'deduped', severity: 'low' }, alert: { id: 'al-0001', teamId: 'team-north' } };
    outbox.run(id, at, JSON.stringify(payload));
  }
  const delivery = db.prepare('INSERT INTO alert_outbox_deliveries (channel, outbox_id, delivered_at) VALUES (?, ?, ?)');
  for (const [channel, ids] of Object.entries(delivered)) for (const id of ids) delivery.run(channel, id, at);
}
