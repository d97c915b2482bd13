import { createHash } from 'node:crypto';
import { CanonicalEventSchema, type CanonicalEvent, type EventBody } from '../../../adapters/canonical.js';
import { createLogger } from '../../../gateway/log.js';
import { InfluxConfigSchema } from '../../../gateway/config/schema.js';
import type { InfluxWriterConfig } from '../../../gateway/storage/influx.js';

// Synthetic canonical events for the storage tests (no personal data: opaque ids, made-up readings).

export const silent = createLogger({ level: 'silent' });

export function influxConfig(url: string, over: Partial<InfluxWriterConfig> = {}): InfluxWriterConfig {
  return { ...InfluxConfigSchema.parse({ url, database: 'tryggheim_test', timeoutMs: 3000 }), url, ...over };
}

/** A deterministic 32-hex event id from a seed (like the gateway's: same input, same id). */
export function eventIdFor(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 32);
}

export function makeEvent(body: EventBody, over: Partial<Omit<CanonicalEvent, 'body'>> & { seed?: string } = {}): CanonicalEvent {
  const { seed, ...rest } = over;
  return CanonicalEventSchema.parse({
    eventId: eventIdFor(seed ?? JSON.stringify([body, rest])),
    deviceId: 'dev-001',
    homeId: 'home-17',
    adapter: { id: 'native', version: 2 },
    observedAt: '2025-03-14T07:30:00.123Z',
    receivedAt: '2025-03-14T07:30:01.456Z',
    body,
    ...rest,
  });
}
