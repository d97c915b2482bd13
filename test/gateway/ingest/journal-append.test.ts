import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openJournal, type Journal } from '../../../gateway/ingest/journal.js';
import { startAppendThread, type JournalWriterThread } from '../../../gateway/ingest/journal-append.js';
import { createLogger } from '../../../gateway/log.js';
import { removeDir } from '../../support/gateway.js';

// The append thread, the journal's single writer, on a real SQLite file: appends resolve with consecutive
// seqs in call order once committed; deletes and cursors ride in the same transactions; close() commits
// what is queued.

const silent = createLogger({ level: 'silent' });
let dir: string | undefined;
let writer: JournalWriterThread | undefined;
let journal: Journal | undefined;

afterEach(async () => {
  await writer?.close();
  journal?.close();
  if (dir) removeDir(dir);
  writer = undefined;
  journal = undefined;
  dir = undefined;
});

async function open(): Promise<{ journal: Journal; writer: JournalWriterThread; dir: string }> {
  dir = mkdtempSync(join(tmpdir(), 'tryggheim-append-'));
  writer = await startAppendThread(dir, silent);
  journal = openJournal(dir, { writer });
  return { journal, writer, dir };
}

const record = (i: number) => ({
  receivedAt: 1_700_000_000_000 + i,
  principalKind: 'device' as const,
  principalId: `dev-${i % 3}`,
  subtopic: 'up',
  qos: 1,
  payload: Buffer.from(`{"i":${i}}`),
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('journal append thread', () => {
  it('appends from one turn and the next get consecutive seqs in call order, and are on disk when they resolve', async () => {
    const { journal: j } = await open();
    const first = Array.from({ length: 300 }, (_, i) => j.append(record(i)));
    const seqs = await Promise.all(first);
    const more = await Promise.all(Array.from({ length: 50 }, (_, i) => j.append(record(300 + i))));
    const all = [...seqs, ...more];
    expect(all).toEqual(all.map((_, k) => (all[0] ?? 0) + k));
    const entries = j.readAfter(0, 1000);
    expect(entries.map((e) => e.payload.toString())).toEqual(Array.from({ length: 350 }, (_, i) => `{"i":${i}}`));
    expect(j.count()).toBe(350);
  });

  it('deletes and cursor updates go through the same writer; the counters follow', async () => {
    const { journal: j } = await open();
    const seqs = await Promise.all(Array.from({ length: 10 }, (_, i) => j.append(record(i))));
    const bytes = j.bytes();
    j.remove(seqs.slice(0, 4));
    j.setCursor('rules', seqs[5] ?? 0);
    await j.append(record(99)); // the next transaction has certainly been committed once this resolves
    await sleep(10);
    expect(j.readAfter(0, 100).map((e) => e.seq)).toEqual([...seqs.slice(4), expect.any(Number)]);
    expect(j.count()).toBe(7);
    expect(j.bytes()).toBe(bytes - seqs.slice(0, 4).reduce((a, _s, k) => a + record(k).payload.length, 0) + record(99).payload.length);
    expect(j.getCursor('rules')).toBe(seqs[5]);
  });

  it('dead-letter moves go through the writer: the entry leaves the journal with its bytes, reason and issues kept', async () => {
    const { journal: j } = await open();
    const seqs = await Promise.all(Array.from({ length: 3 }, (_, i) => j.append(record(i))));
    const [entry] = j.readAfter((seqs[0] ?? 0) - 1, 1);
    if (!entry) throw new Error('entry missing');
    j.deadLetter([
      { entry, dl: { reason: 'invalid_payload', issues: [{ path: ['i'], message: 'bad' }], adapterId: 'tryggheim', adapterVersion: 1 } },
    ]);
    await j.append(record(50));
    await sleep(10);
    expect(j.readAfter(0, 100).map((e) => e.seq)).not.toContain(entry.seq);
    expect(j.count()).toBe(3);
    const dead = j.db.prepare('SELECT journal_seq, reason, issues, payload FROM dead_letters').all() as {
      journal_seq: number;
      reason: string;
      issues: string;
      payload: Buffer;
    }[];
    expect(dead).toEqual([
      { journal_seq: entry.seq, reason: 'invalid_payload', issues: '[{"path":["i"],"message":"bad"}]', payload: entry.payload },
    ]);
  });

  it('close() commits what is queued; a journal opened afterwards sees it', async () => {
    const { journal: j, writer: w, dir: d } = await open();
    const pending = Array.from({ length: 20 }, (_, i) => j.append(record(i)));
    await w.close();
    await Promise.all(pending);
    j.close();
    journal = openJournal(d);
    expect(journal.count()).toBe(20);
    await expect(w.append(record(21))).rejects.toThrow(/closed/);
  });
});
