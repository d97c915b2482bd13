import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJournal, type Journal } from '../../../gateway/ingest/journal.js';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { startInfluxThread, type InfluxThread } from '../../../gateway/storage/influx-thread.js';
import { runInfluxQL } from '../../../gateway/storage/influxql.js';
import { removeDir } from '../../support/gateway.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { influxConfig, silent } from './events.js';

// The storage thread against a real influxd and a real journal file: entries leave the journal only after
// InfluxDB confirmed their lines, and a refusal comes back as the same coded error the in-process writer gives.

let influxd: TestInfluxd;
let dataDir: string;
let journal: Journal;
let thread: InfluxThread;

beforeAll(async () => {
  influxd = await startInfluxd();
  const setup = await createInfluxWriter(influxConfig(influxd.url), { logger: silent });
  await setup.ensureDatabase();
  await setup.close();
  dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-thread-'));
  journal = openJournal(dataDir);
  thread = await startInfluxThread(influxConfig(influxd.url), { dataDir, logger: silent });
});

afterAll(async () => {
  await thread.close();
  journal.close();
  await influxd.stop();
  removeDir(dataDir);
});

async function append(n: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    seqs.push(
      await journal.append({
        receivedAt: Date.now(),
        principalKind: 'device',
        principalId: 'dev-thread-1',
        subtopic: 'up',
        qos: 1,
        payload: Buffer.from(`{"n":${i}}`),
      }),
    );
  }
  return seqs;
}

describe('storage thread', () => {
  it('writes the lines, then deletes exactly the confirmed entries and reports what it freed', async () => {
    const seqs = await append(5);
    const keep = seqs.slice(3);
    const lines = [1, 2, 3].map((i) => `thread_test,device_id=dev-thread-1 v=${i}i ${1_700_000_000_000 + i}000000`);
    const bytesBefore = journal.bytes();

    const result = await thread.writeAndRemove(lines, seqs.slice(0, 3));

    expect(result.removed).toBe(3);
    expect(result.freed).toBe(['{"n":0}', '{"n":1}', '{"n":2}'].reduce((a, s) => a + s.length, 0));
    journal.noteRemoved(result.removed, result.freed);
    expect(journal.bytes()).toBe(bytesBefore - result.freed);
    expect(journal.readAfter(0, 100).map((e) => e.seq)).toEqual(keep);
    const [r] = await runInfluxQL({ url: influxd.url, database: 'tryggheim_test', timeoutMs: 3000 }, 'SELECT v FROM thread_test');
    expect(r?.series?.[0]?.values?.map((row) => row[1])).toEqual([1, 2, 3]);
  });

  it('keeps the entries and reports a non-retryable refusal when InfluxDB refuses the lines', async () => {
    const seqs = await append(2);
    // v is an integer field since the first test: a string for it is a field type conflict.
    const refused = thread.writeAndRemove(['thread_test,device_id=dev-thread-1 v="text" 1700000000999000000'], seqs);

    await expect(refused).rejects.toMatchObject({ name: 'InfluxWriteError', retryable: false, code: 'TRY_ERR_INFLUX_WRITE' });
    const left = journal.readAfter(0, 100).map((e) => e.seq);
    expect(left).toEqual(expect.arrayContaining(seqs));
  });
});
