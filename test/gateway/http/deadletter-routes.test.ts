import { afterEach, describe, expect, it } from 'vitest';
import { ADAPTERS } from '../../../adapters/registry.js';
import { DEAD_LETTER_REASONS as DASHBOARD_REASONS } from '../../../dashboard/web/resource-types.js';
import { DEAD_LETTER_REASONS } from '../../../gateway/ingest/decode.js';
import { createLogger } from '../../../gateway/log.js';
import { SCAN_BUDGET, type DeadLetterDetailSchema, type DeadLetterSchema } from '../../../gateway/http/deadletter-routes.js';
import { authFixture, expectErrorOnly, login, MIN, T0, type Fixture, type LoggedIn } from './auth-fixture.js';
import type { z } from 'zod';

// Dead letters for technicians: list with filters, show (payload as text or base64, capped), replay into the
// journal — on a real journal file. A dead letter is the team's of the home its device was in when it arrived.

type DeadLetterView = z.infer<typeof DeadLetterSchema>;
type Detail = z.infer<typeof DeadLetterDetailSchema>;
interface Page {
  deadLetters: DeadLetterView[];
  next: number | null;
}

let fx: Fixture;
afterEach(async () => {
  await fx.close();
});

const get = (s: LoggedIn, url: string) => fx.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
const post = (s: LoggedIn, url: string) => fx.app.inject({ method: 'POST', url, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
async function list(s: LoggedIn, query = ''): Promise<DeadLetterView[]> {
  const res = await get(s, `/api/v1/dead-letters${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ deadLetters: DeadLetterView[] }>().deadLetters;
}

describe('GET /api/v1/dead-letters', () => {
  it("lists the team's dead letters newest first, with filters; a device's earlier home decides the team", async () => {
    fx = await authFixture();
    const a = await fx.deadLetter('disp-a1');
    fx.clock.now += MIN;
    const b = await fx.deadLetter('sens-a1', '{"temperature":"hot"}', 'invalid_payload');
    await fx.deadLetter('disp-b1');
    // stock-1 sends garbage while in stock (no patient's data then), then is placed in team-b's home: the letter
    // follows it to team-b.
    const stock = await fx.deadLetter('stock-1');
    const tech = await login(fx.app, 'tech-a1');
    const admin = await login(fx.app, 'admin-1');
    // In stock it is nobody's team's: an admin's only.
    expectErrorOnly(await get(tech, `/api/v1/dead-letters/${stock}`), 404, 'TRY_ERR_NOT_FOUND');
    expect((await get(admin, `/api/v1/dead-letters/${stock}`)).json<Detail>()).toMatchObject({ homeId: null, teamId: null });
    fx.clock.now += MIN;
    fx.registry.assign('stock-1', 'home-b1');
    // sens-a1 moves to team-b: its letter from team-a's home stays team-a's.
    fx.registry.assign('sens-a1', 'home-b1');

    expect((await list(tech)).map((d) => d.id)).toEqual([b, a]);
    expect(await list(tech, '?reason=invalid_payload')).toMatchObject([
      { id: b, deviceId: 'sens-a1', reason: 'invalid_payload', homeId: 'home-a1', teamId: 'team-a', truncated: false, replayedAt: null },
    ]);
    expect((await list(tech, '?device=disp-a1')).map((d) => d.id)).toEqual([a]);
    expect(await list(tech, '?device=disp-b1')).toEqual([]);
    expect((await list(tech, '?limit=1')).map((d) => d.id)).toEqual([b]);

    expect(await list(admin)).toHaveLength(4);
    expect((await list(admin, '?team=team-b')).map((d) => d.deviceId)).toEqual(['stock-1', 'disp-b1']);
    expect(fx.audit.list({ action: 'deadletter.list', actorId: tech.userId })[0]).toMatchObject({ outcome: 'ok', detail: { count: 1 } });
  });

  it('refuses a foreign team, names a bad filter, and is not for nurses or team leads', async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    expectErrorOnly(await get(tech, '/api/v1/dead-letters?team=team-b'), 403, 'TRY_ERR_FORBIDDEN');
    const bad = await get(tech, '/api/v1/dead-letters?reason=whatever');
    expectErrorOnly(bad, 400, 'TRY_ERR_VALIDATION');
    expect(bad.json<{ error: { message: string } }>().error.message).toContain('reason');
    expectErrorOnly(await get(tech, '/api/v1/dead-letters?limit=0'), 400, 'TRY_ERR_VALIDATION');
    for (const user of ['nurse-a1', 'lead-a1']) {
      expectErrorOnly(await get(await login(fx.app, user), '/api/v1/dead-letters'), 403, 'TRY_ERR_FORBIDDEN');
    }
  });
});

async function page(s: LoggedIn, query: string): Promise<Page> {
  const res = await get(s, `/api/v1/dead-letters${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Page>();
}

/** Follows `next` to the end; returns every page (at most `max`, so a cursor that never ends fails the test). */
async function allPages(s: LoggedIn, query: string, max = 20): Promise<Page[]> {
  const pages: Page[] = [];
  let next: number | null = null;
  do {
    const p = await page(s, `${query}${next === null ? '' : `&before=${next}`}`);
    pages.push(p);
    next = p.next;
  } while (next !== null && pages.length < max);
  expect(next, 'the last page has no next').toBeNull();
  return pages;
}

/**
 * Stores `n` dead letters of a device, received now, straight into the journal's table (the columns the ingest
 * writes, in one transaction): thousands in milliseconds, where one journal append each would fsync each.
 */
function manyDeadLetters(deviceId: string, n: number, payload = Buffer.from('{"type":"dose.taken","x":')): number[] {
  const insert = fx.journal.db.prepare(
    `INSERT INTO dead_letters (journal_seq, received_at, principal_kind, principal_id, subtopic, qos, reason, issues, adapter_id,
       adapter_version, payload, payload_bytes, created_at) VALUES (0, ?, 'device', ?, 'up', 1, 'malformed', '[]', 'tryggheim', 1, ?, ?, ?)`,
  );
  const at = fx.clock.now;
  return fx.journal.db.transaction(() =>
    Array.from({ length: n }, () => Number(insert.run(at, deviceId, payload, payload.length, at).lastInsertRowid)),
  )();
}

describe('GET /api/v1/dead-letters?reason=', () => {
  it("takes every reason the ingest gives, and the dashboard's filter offers exactly those", async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    for (const reason of DEAD_LETTER_REASONS) expect((await get(tech, `/api/v1/dead-letters?reason=${reason}`)).statusCode).toBe(200);
    // The dashboard keeps its own copy (its browser build cannot import the gateway's modules): it must not drift.
    expect([...DASHBOARD_REASONS]).toEqual([...DEAD_LETTER_REASONS]);
  });
});

describe('GET /api/v1/dead-letters: pages', () => {
  it('pages back with before=next until next is null, every dead letter once, newest first', async () => {
    fx = await authFixture();
    const ids = manyDeadLetters('disp-a1', 7);
    const admin = await login(fx.app, 'admin-1');
    const tech = await login(fx.app, 'tech-a1');
    const newestFirst = [...ids].reverse();
    for (const s of [admin, tech]) {
      const pages = await allPages(s, '?limit=3');
      expect(pages.map((p) => p.deadLetters.length)).toEqual([3, 3, 1]);
      expect(pages.flatMap((p) => p.deadLetters.map((d) => d.id))).toEqual(newestFirst);
      expect(pages[0]?.next).toBe(newestFirst[2]);
    }
    // A page that ends exactly at the oldest one says so: no empty page after it.
    expect(await page(admin, `?limit=1&before=${ids[1]}`)).toMatchObject({ deadLetters: [{ id: ids[0] }], next: null });
    expect(await page(admin, `?limit=7`)).toMatchObject({ next: null });
    expect(fx.audit.list({ action: 'deadletter.list', actorId: admin.userId })[0]).toMatchObject({ detail: { count: 7 } });
    const bad = await get(admin, '/api/v1/dead-letters?before=0');
    expectErrorOnly(bad, 400, 'TRY_ERR_VALIDATION');
  });

  it("a technician pages to their team's dead letters past thousands of other teams' newer ones", async () => {
    fx = await authFixture();
    const [old1, old2] = manyDeadLetters('disp-a1', 2);
    manyDeadLetters('disp-b1', SCAN_BUDGET + 1000);
    const [recent] = manyDeadLetters('sens-a1', 1);
    manyDeadLetters('disp-b1', 100);
    const tech = await login(fx.app, 'tech-a1');

    // One request reads at most SCAN_BUDGET rows: the first page finds the recent one, then runs out among team-b's.
    const pages = await allPages(tech, '?limit=2');
    expect(pages).toHaveLength(2);
    expect(pages[0]?.deadLetters.map((d) => d.id)).toEqual([recent]);
    expect(pages[0]?.next).not.toBeNull();
    const shown = pages.flatMap((p) => p.deadLetters);
    expect(shown.map((d) => d.id)).toEqual([recent, old2, old1]);
    expect(new Set(shown.map((d) => d.teamId))).toEqual(new Set(['team-a']));
    // A device filter is read through its index: no other team's rows in the way.
    expect(await page(tech, '?device=disp-a1')).toMatchObject({ deadLetters: [{ id: old2 }, { id: old1 }], next: null });
    expect(await page(tech, '?device=disp-b1')).toEqual({ deadLetters: [], next: null });

    // The admin sees them all, and team-b's as a team filter.
    const admin = await login(fx.app, 'admin-1');
    expect(await page(admin, '?limit=2')).toMatchObject({ deadLetters: [{ deviceId: 'disp-b1' }, { deviceId: 'disp-b1' }] });
    const teamB = await allPages(admin, '?team=team-b&limit=500');
    expect(teamB.flatMap((p) => p.deadLetters)).toHaveLength(SCAN_BUDGET + 1100);
  });

  it('a dead letter received at the instant its device moves is the new home’s, as the registry places readings', async () => {
    fx = await authFixture();
    const before = await fx.deadLetter('disp-a1');
    fx.clock.now += MIN;
    fx.registry.assign('disp-a1', 'home-b1');
    const at = await fx.deadLetter('disp-a1');
    fx.clock.now += MIN;
    fx.registry.assign('disp-a1', 'home-a2');
    const after = await fx.deadLetter('disp-a1');
    const admin = await login(fx.app, 'admin-1');
    const placed = (await page(admin, '')).deadLetters.map((d) => [d.id, d.homeId, d.teamId]);
    expect(placed).toEqual([
      [after, 'home-a2', 'team-a'],
      [at, 'home-b1', 'team-b'],
      [before, 'home-a1', 'team-a'],
    ]);
    // The same answer as the registry's own rule for the home at an instant.
    const homes = fx.deadLetters.list({ limit: 10 }).map((d) => fx.registry.homeAt(d.deviceId, new Date(d.receivedAt)));
    expect(homes).toEqual(placed.map(([, homeId]) => homeId));
    const tech = await login(fx.app, 'tech-a1');
    expect((await page(tech, '')).deadLetters.map((d) => d.id)).toEqual([after, before]);
    expectErrorOnly(await get(tech, `/api/v1/dead-letters/${at}`), 404, 'TRY_ERR_NOT_FOUND');
  });

  it('lists no payload and no issues (the detail has them); a truncated one says so from the stored size', async () => {
    fx = await authFixture();
    const id = await fx.deadLetter('disp-a1', '{"type":"dose.taken","note":"payload-marker-7f3a"}');
    // As the ingest stores a payload over 64 KiB: the first bytes, and the size received.
    const [cut] = manyDeadLetters('disp-a1', 1);
    fx.journal.db.prepare('UPDATE dead_letters SET payload_bytes = 70000 WHERE id = ?').run(cut);
    const tech = await login(fx.app, 'tech-a1');
    const res = await get(tech, '/api/v1/dead-letters');
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('payload-marker-7f3a');
    expect(res.body).not.toContain('not JSON');
    const listed = res.json<Page>().deadLetters;
    for (const d of listed) {
      expect(d).not.toHaveProperty('payload');
      expect(d).not.toHaveProperty('issues');
    }
    expect(listed.map((d) => [d.id, d.truncated, d.payloadBytes])).toEqual([
      [cut, true, 70000],
      [id, false, 50],
    ]);
    // The library's list reads neither (the route could not leak what it never has).
    expect(fx.deadLetters.list({ limit: 10 })[1]).not.toHaveProperty('issues');
    expect(fx.deadLetters.list({ limit: 10 })[1]).not.toHaveProperty('payload');
    const detail = (await get(tech, `/api/v1/dead-letters/${id}`)).json<Detail>();
    expect(detail.payload.data).toContain('payload-marker-7f3a');
    expect(detail.issues).toEqual([{ path: [], code: 'malformed', message: 'not JSON' }]);
  });
});

describe('GET /api/v1/dead-letters/:id', () => {
  it('shows the issues and the payload as text when it is UTF-8, else base64, and never more than 16 KiB', async () => {
    fx = await authFixture();
    const text = await fx.deadLetter('disp-a1', '{"type":"dose.taken","x":');
    const binary = await fx.deadLetter('disp-a1', Buffer.from([0xff, 0x00, 0xfe, 0x01]));
    const big = await fx.deadLetter('disp-a1', `"${'ø'.repeat(20_000)}"`);
    const tech = await login(fx.app, 'tech-a1');
    const t = (await get(tech, `/api/v1/dead-letters/${text}`)).json<Detail>();
    expect(t).toMatchObject({
      id: text,
      reason: 'malformed',
      adapterId: 'tryggheim',
      adapterVersion: 1,
      issues: [{ path: [], code: 'malformed', message: 'not JSON' }],
      payload: { encoding: 'utf8', data: '{"type":"dose.taken","x":', shownBytes: 25 },
    });
    expect((await get(tech, `/api/v1/dead-letters/${binary}`)).json<Detail>().payload).toEqual({
      encoding: 'base64',
      data: Buffer.from([0xff, 0x00, 0xfe, 0x01]).toString('base64'),
      shownBytes: 4,
    });
    const b = (await get(tech, `/api/v1/dead-letters/${big}`)).json<Detail>();
    expect(b.payloadBytes).toBe(40_002);
    expect(b.payload.encoding).toBe('utf8');
    // Cut at a character boundary at or below 16 KiB (ø is two bytes, after a one-byte quote).
    expect(b.payload.shownBytes).toBe(16_383);
    expect(b.payload.data).toBe(`"${'ø'.repeat(8191)}`);
    expect(fx.audit.list({ action: 'deadletter.view' }).map((e) => [e.targetType, e.targetId, e.outcome])).toContainEqual([
      'dead_letter',
      String(text),
      'ok',
    ]);
  });

  it("answers another team's dead letter like one that does not exist, and names a bad id", async () => {
    fx = await authFixture();
    const foreign = await fx.deadLetter('disp-b1');
    const tech = await login(fx.app, 'tech-a1');
    const res = await get(tech, `/api/v1/dead-letters/${foreign}`);
    expectErrorOnly(res, 404, 'TRY_ERR_NOT_FOUND');
    expect(res.body).toBe((await get(tech, '/api/v1/dead-letters/99999')).body);
    expect(fx.audit.list({ action: 'deadletter.view' })).toMatchObject([
      { targetId: '99999', outcome: 'denied' },
      { targetId: String(foreign), outcome: 'denied', teamId: 'team-b' },
    ]);
    const bad = await get(tech, '/api/v1/dead-letters/abc');
    expectErrorOnly(bad, 400, 'TRY_ERR_VALIDATION');
    expect(bad.json<{ error: { message: string } }>().error.message).toContain('id');
  });
});

describe('a probe of another team (the shared 404 in scope.ts)', () => {
  it("logs security.scope_refused for another team's dead letter and alert, never for an id that does not exist", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    fx = await authFixture({ logger });
    const foreign = await fx.deadLetter('disp-b1');
    const alert = fx.raise('home-b1');
    const tech = await login(fx.app, 'tech-a1');
    const nurse = await login(fx.app, 'nurse-a1');
    expectErrorOnly(await get(tech, '/api/v1/dead-letters/99999'), 404, 'TRY_ERR_NOT_FOUND');
    expectErrorOnly(await get(nurse, '/api/v1/alerts/al-missing'), 404, 'TRY_ERR_NOT_FOUND');
    expectErrorOnly(await get(tech, `/api/v1/dead-letters/${foreign}`), 404, 'TRY_ERR_NOT_FOUND');
    expectErrorOnly(await get(nurse, `/api/v1/alerts/${alert}`), 404, 'TRY_ERR_NOT_FOUND');
    const refused = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'security.scope_refused')
      .map(({ actorId, deadLetterId, alertId }) => ({ actorId, deadLetterId, alertId }));
    expect(refused).toEqual([
      { actorId: tech.userId, deadLetterId: foreign, alertId: undefined },
      { actorId: nurse.userId, deadLetterId: undefined, alertId: alert },
    ]);
    expect(fx.audit.list({ action: 'alert.view' })).toMatchObject([
      { targetType: 'alert', targetId: alert, teamId: 'team-b', outcome: 'denied' },
      { targetType: 'alert', targetId: 'al-missing', teamId: null, outcome: 'denied' },
    ]);
  });
});

describe('POST /api/v1/dead-letters/:id/replay', () => {
  it('puts the message back into the journal with its receive time, once; a second replay is 409', async () => {
    fx = await authFixture();
    const id = await fx.deadLetter('disp-a1', '{"type":"dose.taken"}', 'no_adapter');
    const before = fx.journal.count();
    fx.clock.now += 5 * MIN;
    const tech = await login(fx.app, 'tech-a1');
    const res = await post(tech, `/api/v1/dead-letters/${id}/replay`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ deadLetter: DeadLetterView }>().deadLetter).toMatchObject({ id, replayedAt: new Date(T0 + 5 * MIN).toISOString() });
    const back = fx.journal.readAfter(0, 100).filter((e) => e.principalId === 'disp-a1');
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ receivedAt: T0, subtopic: 'up' });
    expect(back[0]?.payload.toString()).toBe('{"type":"dose.taken"}');
    expect(fx.journal.readAfter(0, 100).length).toBe(before + 1);

    expectErrorOnly(await post(tech, `/api/v1/dead-letters/${id}/replay`), 409, 'TRY_ERR_DEAD_LETTER_NOT_REPLAYABLE');
    expect(fx.audit.list({ action: 'deadletter.replay' }).map((e) => [e.outcome, e.detail.why ?? null])).toEqual([
      ['failed', 'already replayed'],
      ['ok', null],
    ]);
    // Replayed ones are listed only when asked for.
    expect(await list(tech)).toEqual([]);
    expect((await list(tech, '?all=true')).map((d) => d.id)).toEqual([id]);
  });

  it("does not replay another team's dead letter", async () => {
    fx = await authFixture();
    const foreign = await fx.deadLetter('disp-b1');
    const tech = await login(fx.app, 'tech-a1');
    expectErrorOnly(await post(tech, `/api/v1/dead-letters/${foreign}/replay`), 404, 'TRY_ERR_NOT_FOUND');
    expect(fx.deadLetters.get(foreign)?.replayedAt).toBeNull();
    expect(fx.journal.readAfter(0, 100)).toEqual([]);
  });
});

describe('GET /api/v1/adapters', () => {
  it('lists the adapter catalogue for technicians', async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    const res = await get(tech, '/api/v1/adapters');
    expect(res.statusCode).toBe(200);
    const adapters = res.json<{ adapters: { id: string; version: number; title: string; deviceClasses: string[] }[] }>().adapters;
    expect(adapters.map((a) => a.id)).toEqual(ADAPTERS.map((a) => a.id));
    expect(adapters.find((a) => a.id === 'tryggheim')).toMatchObject({
      version: 1,
      deviceClasses: ['dispenser', 'lock', 'sensor', 'vitals'],
    });
    expectErrorOnly(await get(await login(fx.app, 'nurse-a1'), '/api/v1/adapters'), 403, 'TRY_ERR_FORBIDDEN');
  });
});
