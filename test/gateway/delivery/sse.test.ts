import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOutboxNotifier, type OutboxNotifier } from '../../../gateway/delivery/channel.js';
import { createSseHub, type SseHub, type StreamMessage } from '../../../gateway/delivery/sse.js';
import { HOUR, setup, type Fixture } from '../alerts/fixture.js';

// The live stream's hub (gateway/delivery/sse.ts) resuming from Last-Event-ID over a real SQLite alert store
// whose outbox has been pruned (gateway/alerts/outbox.ts). The fixture's clock is a fake one moved by hand.

const DAY = 24 * HOUR;

let f: Fixture;
let notifier: OutboxNotifier;
let hubs: SseHub[];

beforeEach(() => {
  f = setup();
  notifier = createOutboxNotifier();
  hubs = [];
});

afterEach(() => {
  for (const h of hubs) h.close();
  f.close();
});

function hub(): SseHub {
  const h = createSseHub(f.store, notifier, { warn: () => undefined, debug: () => undefined });
  hubs.push(h);
  return h;
}

/** Joins a client that sees every team; returns what it is sent, as "event id" strings. */
function join(h: SseHub, lastEventId: number | undefined): string[] {
  const got: string[] = [];
  h.join(
    {
      scope: { teams: '*', minSeverity: 'low' },
      push(messages: readonly StreamMessage[]) {
        for (const m of messages)
          got.push(m.event === 'reset' ? `reset ${m.id ?? ''} ${(m.data as { reason: string }).reason}` : `alert ${m.id ?? ''}`);
        return true;
      },
    },
    lastEventId,
  );
  return got;
}

function raise(n: number): void {
  const before = f.store.lastOutboxId();
  for (let i = 1; i <= n; i++) f.store.apply(f.signal({ subject: `sensor-${before + i}`, severity: 'low' }));
  notifier.notify();
}

/** No channel configured: everything older than 30 days is pruned, at most `limit` entries. */
const prune = (limit = 1000) => f.store.pruneOutbox(new Date(f.clock.now - 30 * DAY), [], limit);

describe('SSE resume after pruning', () => {
  it('a Last-Event-ID older than what the outbox keeps gets a reset and then the live stream; a newer one replays', () => {
    raise(5);
    f.clock.now += 31 * DAY;
    expect(prune(3)).toBe(3); // 1–3 gone, 4 and 5 kept
    const h = hub();

    const pruned = join(h, 1); // missed 2 and 3, which are gone
    const alsoPruned = join(h, 2);
    const replayable = join(h, 3); // missed 4 and 5, both kept
    const fresh = join(h, undefined);
    expect(pruned).toEqual(['reset 5 history_pruned']);
    expect(alsoPruned).toEqual(['reset 5 history_pruned']);
    expect(replayable).toEqual(['alert 4', 'alert 5']);
    expect(fresh).toEqual([]);

    raise(1);
    for (const got of [pruned, alsoPruned, replayable, fresh]) expect(got.at(-1)).toBe('alert 6');
    expect(h.clients()).toBe(4);
  });

  it('with the whole outbox pruned, the stream still knows where it is: old ids reset, the last one resumes', () => {
    raise(3);
    f.clock.now += 31 * DAY;
    expect(prune()).toBe(3);
    expect(f.store.oldestOutboxId()).toBeUndefined();
    const h = hub();

    const behind = join(h, 1);
    const current = join(h, 3);
    expect(behind).toEqual(['reset 3 history_pruned']);
    expect(current).toEqual([]);

    raise(1);
    expect(behind).toEqual(['reset 3 history_pruned', 'alert 4']);
    expect(current).toEqual(['alert 4']);
  });
});
