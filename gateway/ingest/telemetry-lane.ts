import type { CanonicalEvent } from '../../adapters/canonical.js';

// The rules pass's telemetry lane (docs/adr/007-ingest-threads.md, "Alarms before telemetry"). The rules pass
// decodes what arrived every turn; entries with anything but telemetry (alarms, doses, doors) go to the rules
// at once, telemetry waits here and is handed over for a bounded time per turn. Under overload a fall is then
// not queued behind seconds of room-climate readings (the alerts benchmark: fall publish → rule ran p50 1.9 s
// with one queue). A principal's own order is kept: an urgent entry takes that principal's queued telemetry
// along, in front of it (`take`).

/** Telemetry handed to the rules per turn, at most this long (ms): the broker's packets wait meanwhile. */
const BUDGET_MS = 5;
/** Telemetry entries per hand-over (one rule-engine transaction each). */
const SUB_CHUNK = 50;

export interface QueuedTelemetry {
  principal: string;
  seq: number;
  events: CanonicalEvent[];
  /** Accepted by this process (the pipeline counts it as on its way to the rules until handed over). */
  early: boolean;
}

export interface TelemetryLane {
  push(item: QueuedTelemetry): void;
  /** Removes the principal's queued telemetry (journal order) and returns its events. Rare: see above. */
  take(principal: string): CanonicalEvent[];
  /** Hands queued telemetry over, a sub-chunk at a time, until the turn's budget is spent. */
  run(): void;
  /** The seq of the oldest entry still queued, or undefined when empty. */
  oldestSeq(): number | undefined;
}

export function createTelemetryLane(deps: {
  /** Hands events to the rules (the bus's 'events'). */
  emit: (events: CanonicalEvent[]) => void;
  /** Called for each `early` item as it leaves the lane. */
  handedOver: (principal: string) => void;
}): TelemetryLane {
  let queue: QueuedTelemetry[] = [];
  let head = 0;
  const perPrincipal = new Map<string, number>();

  return {
    push(item) {
      queue.push(item);
      perPrincipal.set(item.principal, (perPrincipal.get(item.principal) ?? 0) + 1);
    },
    take(principal) {
      if ((perPrincipal.get(principal) ?? 0) === 0) return [];
      perPrincipal.delete(principal);
      const taken: CanonicalEvent[] = [];
      const kept: QueuedTelemetry[] = [];
      for (let i = head; i < queue.length; i += 1) {
        const q = queue[i] as QueuedTelemetry;
        if (q.principal !== principal) {
          kept.push(q);
          continue;
        }
        taken.push(...q.events);
        if (q.early) deps.handedOver(principal);
      }
      queue = kept;
      head = 0;
      return taken;
    },
    run() {
      const until = performance.now() + BUDGET_MS;
      while (head < queue.length) {
        const chunk: CanonicalEvent[] = [];
        const end = Math.min(queue.length, head + SUB_CHUNK);
        for (; head < end; head += 1) {
          const q = queue[head] as QueuedTelemetry;
          const left = (perPrincipal.get(q.principal) ?? 1) - 1;
          if (left > 0) perPrincipal.set(q.principal, left);
          else perPrincipal.delete(q.principal);
          if (q.early) deps.handedOver(q.principal);
          for (const e of q.events) chunk.push(e);
        }
        if (chunk.length > 0) deps.emit(chunk);
        if (performance.now() >= until) break;
      }
      if (head === queue.length) {
        queue = [];
        head = 0;
      } else if (head > 4096) {
        queue = queue.slice(head);
        head = 0;
      }
    },
    oldestSeq: () => (head < queue.length ? (queue[head] as QueuedTelemetry).seq : undefined),
  };
}
