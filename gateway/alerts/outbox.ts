import { fail, guard, iso, parse } from './guard.js';
import { ChannelSchema, type OutboxEntry } from './model.js';
import type { AlertSql } from './sql.js';

/*
 * The alert outbox as the delivery channels see it (part of the alert store; gateway/delivery/channel.ts is the
 * contract). The lifecycle writes one row per transition (store.ts); here channels read what they have pending
 * and mark what their receiver confirmed, live streams read by id, and the gateway prunes.
 *
 * Each channel has a cursor: every id up to it is delivered for the channel. Reading pending entries starts
 * after it, so a channel's poll costs its undelivered window, not its history; marking advances it over the
 * contiguous prefix now delivered, in the same transaction. A channel seen for the first time starts at the
 * outbox's end: a newly configured webhook gets the alerts from then on, not years of history.
 */

export interface OutboxDeps {
  sql: AlertSql;
  /** Epoch ms: the store's clock, for delivered_at. */
  now: () => number;
}

const MAX_LIMIT = 10_000;

export function createOutbox({ sql, now }: OutboxDeps) {
  /** The channel's cursor, created at the outbox's end when the channel asks for the first time. */
  const cursorOf = (channel: string): number =>
    sql.cursor(channel) ??
    sql.transaction(() => {
      // OR IGNORE: another process may have opened it since the read above; its value wins.
      sql.openCursor(channel, sql.lastOutboxId());
      return sql.cursor(channel) ?? 0;
    });

  return {
    /** The oldest entries this channel has not yet marked delivered (none from before its first call). */
    pendingOutbox: (channel: string, limit = 100): OutboxEntry[] => {
      const ch = channelName(channel);
      checkLimit(limit);
      return guard('reading the outbox', () => sql.pending(ch, cursorOf(ch), limit));
    },

    /**
     * Opens the cursors of channels that have none, at the outbox's end, as their first pendingOutbox would. The
     * gateway calls it before anything can raise an alert, so a channel's first start misses nothing raised
     * while the rest of the gateway was starting.
     */
    openOutboxCursors: (channels: readonly string[]): void => {
      const names = channels.map(channelName);
      guard('opening outbox cursors', () =>
        sql.transaction(() => {
          const end = sql.lastOutboxId();
          for (const ch of names) sql.openCursor(ch, end);
        }),
      );
    },

    /** Entries with an id above `after`, oldest first, for every channel (SSE resumes from Last-Event-ID). */
    outboxSince: (after: number, limit = 1000): OutboxEntry[] => {
      if (!Number.isSafeInteger(after) || after < 0) fail('TRY_ERR_ALERT_INVALID_INPUT', 'after must be a non-negative integer');
      checkLimit(limit);
      return guard('reading the outbox', () => sql.since(after, limit));
    },

    /** The newest outbox id ever written (0 when none): where a live stream without Last-Event-ID starts. */
    lastOutboxId: (): number => guard('reading the outbox', () => sql.lastOutboxId()),

    /** The oldest id still stored (older ones were pruned); undefined when the outbox is empty. */
    oldestOutboxId: (): number | undefined => guard('reading the outbox', () => sql.oldestOutboxId()),

    /**
     * Call only after the receiver confirmed (telegraf: ack after delivery). Idempotent; returns how many were
     * newly marked. An id that is not in the outbox is a caller bug and refuses the whole batch.
     */
    markDelivered: (channel: string, ids: readonly number[]): number => {
      const ch = channelName(channel);
      if (!ids.every((id) => Number.isSafeInteger(id) && id > 0))
        fail('TRY_ERR_ALERT_INVALID_INPUT', 'outbox ids must be positive integers');
      const at = iso(now());
      return guard(
        'marking outbox entries delivered',
        () =>
          sql.transaction(() => {
            const marked = ids.reduce((n, id) => n + sql.markDelivered(ch, id, at), 0);
            sql.advanceCursor(ch);
            return marked;
          }),
        (code) => (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' ? ['TRY_ERR_ALERT_OUTBOX_UNKNOWN', 'unknown outbox id'] : undefined),
      );
    },

    /**
     * Deletes, oldest first, at most `limit` entries (and their delivery rows) created before `olderThan` and
     * delivered by every one of `channels` (the configured ones). An entry any of them still has pending is kept
     * whatever its age, and so is everything after it: what is left is always a suffix of the outbox, so a live
     * stream can tell from the oldest id whether a client missed pruned entries. Returns how many were deleted;
     * `limit` means there may be more (call again).
     */
    pruneOutbox: (olderThan: Date, channels: readonly string[], limit = 1000): number => {
      if (!(olderThan instanceof Date) || Number.isNaN(olderThan.getTime()))
        fail('TRY_ERR_ALERT_INVALID_INPUT', 'olderThan must be a valid Date');
      const names = channels.map(channelName);
      checkLimit(limit);
      const cutoff = olderThan.toISOString();
      return guard('pruning the outbox', () =>
        sql.transaction(() => {
          const head = sql.outboxHead(deliveredByAll(sql, names), limit);
          const last = lastOlderThan(head, cutoff);
          return last === undefined ? 0 : sql.deleteOutboxThrough(last);
        }),
      );
    },
  };
}

/**
 * The highest id every channel has delivered contiguously. A channel without a cursor has not asked yet and will
 * start at the outbox's end, so nothing stored now is pending for it: it holds nothing back.
 */
function deliveredByAll(sql: AlertSql, channels: readonly string[]): number {
  const cursors = sql.cursors();
  let through = sql.lastOutboxId();
  for (const ch of channels) through = Math.min(through, cursors.get(ch) ?? through);
  return through;
}

/** The id of the last entry of the run of entries older than `cutoff` at the head (ISO text compares as time). */
function lastOlderThan(head: readonly { id: number; createdAt: string }[], cutoff: string): number | undefined {
  let last: number | undefined;
  for (const entry of head) {
    // Stop at the first younger one: a clock that stepped back must not open a hole in the middle.
    if (entry.createdAt >= cutoff) break;
    last = entry.id;
  }
  return last;
}

function channelName(channel: string): string {
  return parse(ChannelSchema, channel, 'TRY_ERR_ALERT_INVALID_INPUT');
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) fail('TRY_ERR_ALERT_INVALID_INPUT', 'limit must be 1–10000');
}
