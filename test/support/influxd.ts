import { afterAll } from 'vitest';
import { startInfluxdProcess, type InfluxdOptions, type InfluxdProcess } from '../../gateway/storage/influxd-process.js';

// A real influxd (Debian's 1.6.7) per test file, on free loopback ports with a temp folder. Thin wrapper over
// the production helper the demo uses; it only adds the leak guard below.

export type TestInfluxd = InfluxdProcess;

const started = new Set<InfluxdProcess>();

// Registered when a test file imports this module (during collection), so it runs after the file's own
// afterAll hooks: a test or hook that failed before its stop() still leaves no influxd behind. The
// process-exit hook in influxd-process.ts is the last resort.
afterAll(async () => {
  await Promise.allSettled([...started].map((p) => p.stop()));
  started.clear();
});

export async function startInfluxd(opts: Pick<InfluxdOptions, 'dataDir' | 'auth' | 'port'> = {}): Promise<TestInfluxd> {
  const p = await startInfluxdProcess({ ...opts, startTimeoutMs: 20_000, stopTimeoutMs: 5_000 });
  started.add(p);
  const stop = p.stop.bind(p);
  return Object.assign(p, {
    async stop(): Promise<void> {
      started.delete(p);
      await stop();
    },
  });
}
