import { afterEach, describe, expect, it } from 'vitest';
import { ADAPTERS } from '../../../adapters/registry.js';
import type { DeadLetterDetailSchema, DeadLetterSchema } from '../../../gateway/http/deadletter-routes.js';
import { authFixture, expectErrorOnly, login, MIN, T0, type Fixture, type LoggedIn } from './auth-fixture.js';
import type { z } from 'zod';

// Dead letters for technicians: list with filters, show (payload as text or base64, capped), replay into the
// journal — on a real journal file. A dead letter is the team's of the home its device was in when it arrived.

type DeadLetterView = z.infer<typeof DeadLetterSchema>;
type Detail = z.infer<typeof DeadLetterDetailSchema>;

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
