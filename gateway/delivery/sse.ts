import type { OutboxEntry } from '../alerts/model.js';
import { routes, type OutboxNotifier, type Route } from './channel.js';

// The live stream for dashboards (issue 5 item 5): Server-Sent Events straight from the alert outbox. The
// outbox id is the SSE event id, so a client that reconnects with `Last-Event-ID` gets exactly what it missed,
// from the database, in order — the stream needs no delivery bookkeeping of its own (a dashboard that was away
// for a day replays the day, or is told to reload when that is too much or when what it missed has been pruned).
//
// One hub reads each new outbox row once and fans it out to every connected stream whose scope carries it.
// better-sqlite3 reads are synchronous, so "replay up to the hub's position, then join the live fan-out" has no
// gap and no duplicate: nothing else runs between the two.

export interface SseOutbox {
  outboxSince(after: number, limit?: number): OutboxEntry[];
  lastOutboxId(): number;
  /** The oldest id still stored (older ones were pruned); undefined when the outbox is empty. */
  oldestOutboxId(): number | undefined;
}

export interface SseLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** What a stream is sent: one team, several, or all; and the least severe alert. */
export type StreamScope = Route;

/** One SSE message, in the shape @fastify/sse sends. */
export interface StreamMessage {
  readonly id?: string;
  readonly event: 'alert' | 'reset';
  readonly data: unknown;
}

export interface StreamClient {
  readonly scope: StreamScope;
  /** Queues messages in order; false when the client is gone or its queue overflowed (the hub drops it). */
  push(messages: readonly StreamMessage[]): boolean;
}

export interface SseHubOptions {
  /** The most a reconnecting client is replayed; past it, it gets a `reset` event and reloads its list. */
  readonly maxReplay?: number;
}

export interface SseHub {
  /**
   * Joins a client: replays what it missed since `lastEventId` (a number from the Last-Event-ID header, or
   * undefined for a fresh client that starts at the live end), then sends it every new entry it carries.
   */
  join(client: StreamClient, lastEventId: number | undefined): () => void;
  /** Reads new outbox rows and fans them out (the notifier calls it; tests may). */
  pump(): void;
  clients(): number;
  close(): void;
}

const PAGE = 500;

export function toMessage(entry: OutboxEntry): StreamMessage {
  return { id: String(entry.id), event: 'alert', data: { transition: entry.transition, alert: entry.alert } };
}

export function createSseHub(outbox: SseOutbox, notifier: OutboxNotifier, logger: SseLogger, opts: SseHubOptions = {}): SseHub {
  const maxReplay = opts.maxReplay ?? 10_000;
  const clients = new Set<StreamClient>();
  let cursor = outbox.lastOutboxId();
  let closed = false;

  function fanOut(entries: readonly OutboxEntry[]): void {
    for (const client of clients) {
      const mine = entries.filter((e) => routes(client.scope, e)).map(toMessage);
      if (mine.length > 0 && !client.push(mine)) clients.delete(client);
    }
  }

  function pump(): void {
    if (closed) return;
    for (;;) {
      const page = outbox.outboxSince(cursor, PAGE);
      if (page.length === 0) return;
      cursor = page[page.length - 1]?.id ?? cursor;
      fanOut(page);
      if (page.length < PAGE) return;
    }
  }

  /** A `reset`: the client reloads its list, and goes on live from the hub's position (its new Last-Event-ID). */
  function reset(reason: 'replay_too_long' | 'history_pruned', lastEventId: number): StreamMessage {
    logger.debug({ event: 'sse.reset', reason, behind: cursor - lastEventId }, 'stream client cannot be replayed; told to reload');
    return { id: String(cursor), event: 'reset', data: { reason, missed: cursor - lastEventId } };
  }

  /** What a client whose last event was `lastEventId` missed up to the hub's position, in its scope. */
  function catchUp(scope: StreamScope, lastEventId: number): StreamMessage[] {
    // Entries right after its last one were pruned (gateway/alerts/outbox.ts keeps a suffix of the outbox):
    // replaying what is left would hide that it missed some, so it is told to reload instead.
    const oldest = outbox.oldestOutboxId() ?? cursor + 1;
    if (lastEventId + 1 < oldest) return [reset('history_pruned', lastEventId)];
    const replay: StreamMessage[] = [];
    let after = lastEventId;
    let seen = 0;
    while (after < cursor) {
      const page = outbox.outboxSince(after, PAGE).filter((e) => e.id <= cursor);
      if (page.length === 0) break;
      after = page[page.length - 1]?.id ?? cursor;
      seen += page.length;
      // Too far behind to replay usefully: tell the client to reload its list, and go on live from here.
      if (seen > maxReplay) return [reset('replay_too_long', lastEventId)];
      for (const e of page) if (routes(scope, e)) replay.push(toMessage(e));
    }
    return replay;
  }

  const unsubscribe = notifier.subscribe(pump);

  return {
    join(client, lastEventId) {
      pump();
      if (lastEventId !== undefined && lastEventId < cursor) {
        const replay = catchUp(client.scope, lastEventId);
        if (replay.length > 0 && !client.push(replay)) return () => undefined;
      }
      clients.add(client);
      return () => clients.delete(client);
    },
    pump,
    clients: () => clients.size,
    close() {
      closed = true;
      unsubscribe();
      clients.clear();
    },
  };
}
