import type { IngestWorkerResult } from '../ingest-worker.js';
import { nowMs, sleep } from '../proc.js';
import type { Device, IngestPhase } from './params.js';
import type { Server } from './pipeline.js';
import type { PipelineResult, Verification } from './results.js';
import type { WorkerHandle } from './workers.js';

// After the publishers stop: wait until everything acked is stored (drain), then look every acked
// (device, seq) up in InfluxDB (verify).

/** Waits until the journal is empty (gateway) or the subscriber has received and flushed everything acked (DIY). */
export async function drain(
  ctx: IngestPhase,
  server: Server,
  acked: number,
  stopAt: number,
  result: PipelineResult,
  orDeath: <T>(p: Promise<T>) => Promise<T>,
): Promise<void> {
  const drainDeadline = performance.now() + ctx.params.drainSec * 1000;
  let drained = false;
  if (server.metrics) {
    while (performance.now() < drainDeadline) {
      const m = await orDeath(server.metrics());
      if ((m.tryggheim_journal_entries ?? NaN) === 0 && (m.tryggheim_ingest_messages_total ?? 0) >= acked) {
        drained = true;
        break;
      }
      await sleep(250);
    }
  } else if (server.subscriber) {
    // First until mosquitto has delivered what it acked (or delivers nothing more), then the subscriber flushes.
    let last = -1;
    let stableSince = performance.now();
    while (performance.now() < drainDeadline) {
      const c = await orDeath(server.subscriber.snapshot());
      if (c.received >= acked) break;
      if (c.received !== last) {
        last = c.received;
        stableSince = performance.now();
      } else if (performance.now() - stableSince > 3000) {
        result.warnings.push(`the subscriber received ${c.received} messages of ${acked} acked by mosquitto; nothing more arrived for 3 s`);
        break;
      }
      await sleep(250);
    }
    const left = Math.max(1000, drainDeadline - performance.now());
    drained = (await orDeath(Promise.race([server.subscriber.drain().then(() => true), sleep(left).then(() => false)]))) && true;
  }
  result.drainMs = nowMs() - stopAt;
  result.drainComplete = drained;
  if (!drained) result.warnings.push(`not everything acked was stored within ${ctx.params.drainSec} s of the stop`);
}

/** Every stored seq by device (`present`), and how the acked messages compare with it. */
export async function verify(
  ctx: IngestPhase,
  database: string,
  devices: readonly Device[],
  workers: readonly WorkerHandle[],
  done: readonly IngestWorkerResult[],
): Promise<Verification & { present: Map<string, Set<number>> }> {
  const query = 'SELECT seq FROM sensor GROUP BY device_id';
  const present = new Map<string, Set<number>>();
  let rows = 0;
  const url = new URL('/query', ctx.influxd.url);
  url.search = new URLSearchParams({ db: database, q: query, epoch: 'ms', chunked: 'true', chunk_size: '20000' }).toString();
  const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxDB /query answered ${res.status}: ${text.slice(0, 300)}`);
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const chunk = JSON.parse(line) as {
      results?: { error?: string; series?: { tags?: Record<string, string>; values?: [number, number][] }[] }[];
      error?: string;
    };
    if (chunk.error !== undefined) throw new Error(`InfluxDB query failed: ${chunk.error}`);
    for (const r of chunk.results ?? []) {
      if (r.error !== undefined) throw new Error(`InfluxDB query failed: ${r.error}`);
      for (const s of r.series ?? []) {
        const id = s.tags?.device_id ?? '';
        let set = present.get(id);
        if (!set) {
          set = new Set();
          present.set(id, set);
        }
        for (const [, seq] of s.values ?? []) {
          rows += 1;
          set.add(seq);
        }
      }
    }
  }
  let distinct = 0;
  for (const s of present.values()) distinct += s.size;
  let ackedTotal = 0;
  let ackedStored = 0;
  const missingSample: string[] = [];
  for (const [k, d] of done.entries()) {
    const offset = workers[k]?.offset ?? 0;
    const r = d.records;
    for (let i = 0; i < r.count; i++) {
      const dev = devices[offset + (r.device[i] ?? 0)];
      const seq = r.seq[i] ?? -1;
      ackedTotal += 1;
      if (dev !== undefined && present.get(dev.id)?.has(seq) === true) ackedStored += 1;
      else if (missingSample.length < 20) missingSample.push(`${dev?.id ?? '?'}#${seq}`);
    }
  }
  return {
    query,
    storedRows: rows,
    storedDistinct: distinct,
    ackedTotal,
    ackedStored,
    ackedMissing: ackedTotal - ackedStored,
    missingSample,
    storedNotAcked: distinct - ackedStored,
    present,
  };
}
