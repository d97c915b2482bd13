import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { startInfluxThread, type InfluxThread } from '../../../gateway/storage/influx-thread.js';
import { runInfluxQL } from '../../../gateway/storage/influxql.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { influxConfig, silent } from './events.js';

// The storage thread against a real influxd: write() resolves only once InfluxDB confirmed the lines, and a
// refusal comes back as the same coded error the in-process writer gives.

let influxd: TestInfluxd;
let thread: InfluxThread;

beforeAll(async () => {
  influxd = await startInfluxd();
  const setup = await createInfluxWriter(influxConfig(influxd.url), { logger: silent });
  await setup.ensureDatabase();
  await setup.close();
  thread = await startInfluxThread(influxConfig(influxd.url), { logger: silent });
});

afterAll(async () => {
  await thread.close();
  await influxd.stop();
});

describe('storage thread', () => {
  it('write() resolves once the lines are queryable', async () => {
    const lines = [1, 2, 3].map((i) => `thread_test,device_id=dev-thread-1 v=${i}i ${1_700_000_000_000 + i}000000`);
    await thread.write(lines);
    const [r] = await runInfluxQL({ url: influxd.url, database: 'tryggheim_test', timeoutMs: 3000 }, 'SELECT v FROM thread_test');
    expect(r?.series?.[0]?.values?.map((row) => row[1])).toEqual([1, 2, 3]);
  });

  it('a refusal is a non-retryable InfluxWriteError, as from the in-process writer', async () => {
    // v is an integer field since the first test: a string for it is a field type conflict.
    const refused = thread.write(['thread_test,device_id=dev-thread-1 v="text" 1700000000999000000']);
    await expect(refused).rejects.toMatchObject({ name: 'InfluxWriteError', retryable: false, code: 'TRY_ERR_INFLUX_WRITE' });
  });

  it('after close() writes are refused as retryable (the journal keeps the data)', async () => {
    const other = await startInfluxThread(influxConfig(influxd.url), { logger: silent });
    await other.close();
    await expect(other.write(['thread_test v=1i 1700000000000000000'])).rejects.toMatchObject({ retryable: true });
  });
});
