import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../dashboard/build.js';
import { audit, login as loginAt, screenshots, startBrowsing, type Browsing } from './browser.js';
import { createStubState, startStubServer, type StubState } from './stub-api.js';

// The dashboard in a real headless Chromium (Debian's), served by dashboardRoutes, against a STUB API: a test
// double of the issue-6 session/alerts contract (stub-api.ts). It covers what the real gateway cannot be made to
// do on cue (browser.gateway.test.ts and browser.phone.test.ts have the rest): a slow acknowledgement shown at
// once, a refused one rolled back, the resolve form's own checks, the wall board with 42 alerts and through a
// server restart, the language switch and logging out. The tests run in order and share the stub's state and
// Kari's page.

const USERS = [
  { id: 'u-kari', username: 'kari', displayName: 'Sykepleier Test 1', role: 'nurse', teams: ['team-north'], password: 'kari-pass-1' },
  { id: 'u-ola', username: 'ola', displayName: 'Sykepleier Test 2', role: 'nurse', teams: ['team-north'], password: 'ola-pass-1' },
  {
    id: 'u-room',
    username: 'teamrom',
    displayName: 'Teamrommet',
    role: 'team_lead',
    teams: ['team-north', 'team-south'],
    password: 'room-pass-1',
  },
] as const;

let publicDir: string;
let state: StubState;
let server: Awaited<ReturnType<typeof startStubServer>>;
let base: string;
let browsing: Browsing;
const shots = screenshots('');
let kari: Page;

beforeAll(async () => {
  publicDir = mkdtempSync(join(tmpdir(), 'tryggheim-dashboard-e2e-'));
  await buildDashboard({ outDir: publicDir });
  state = createStubState(USERS);
  server = await startStubServer(state, publicDir);
  base = `http://127.0.0.1:${server.port}`;
  browsing = await startBrowsing({ timeoutMs: 5000 });
}, 60_000);

afterAll(async () => {
  await browsing.close();
  await server.app.close();
  rmSync(publicDir, { recursive: true, force: true });
});

const shot = (page: Page, name: string) => shots.save(page, name, { fullPage: true });
const login = (page: Page, username: string, password: string) => loginAt(page, base, { username, password });
const card = (page: Page, id: string) => page.locator(`[data-alert-id="${id}"]`);
const liveRegionHas = (page: Page, text: string) =>
  // Polled with expect.poll, not waitForFunction: a polled string predicate is eval'd in the page, which the CSP refuses.
  expect.poll(async () => page.getByTestId('live-region').textContent(), { timeout: 3000 }).toContain(text);

describe('dashboard in headless Chromium against a stub API (test double of the issue-6 contract)', () => {
  it('logs in', async () => {
    kari = await browsing.newPage();
    await login(kari, 'kari', 'kari-pass-1');
    await kari.getByTestId('alerts-empty').waitFor();
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('shows an alert raised while watching within 2 s, ordered and announced, and acknowledges it in one tap', async () => {
    state.raise({ id: 'a-door', rule: 'door-left-open', severity: 'high', title: 'Door left open', homeId: 'h-0002', agoMinutes: 150 });
    await card(kari, 'a-door').waitFor({ timeout: 2000 });

    const started = Date.now();
    state.raise({ id: 'a-fall', rule: 'fall', severity: 'critical', title: 'Fall detected', homeId: 'h-0001' });
    await card(kari, 'a-fall').waitFor({ timeout: 2000 });
    expect(Date.now() - started).toBeLessThan(2000);
    await liveRegionHas(kari, 'Nytt varsel, Kritisk: Fall oppdaget, Hjem h-0001');

    // Critical first, though the door has waited longer.
    const items = kari.locator('[data-testid=alert-list] > li');
    expect([await items.nth(0).getAttribute('data-alert-id'), await items.nth(1).getAttribute('data-alert-id')]).toEqual([
      'a-fall',
      'a-door',
    ]);
    const fall = (await card(kari, 'a-fall').textContent()) ?? '';
    // The page clock ticks once a second, so it may still be a moment before the raise: 30:0x.
    expect(fall).toMatch(/frist om (30:0\d|29:\d\d)/);
    // 150 min after a high alert: 30 min past its 2 h follow-up deadline, highlighted.
    expect(await card(kari, 'a-door').getAttribute('class')).toContain('card--overdue');
    expect(await card(kari, 'a-door').getByTestId('follow-up').textContent()).toMatch(/(29:5\d|30:\d\d) over fristen/);

    // Optimistic: shown at once (the stub takes 800 ms to answer), confirmed afterwards.
    state.setAckDelay(800);
    await card(kari, 'a-fall')
      .getByRole('button', { name: /^Kvitter varselet/ })
      .click();
    await card(kari, 'a-fall').getByText('Kvittert av deg').waitFor({ timeout: 400 });
    await card(kari, 'a-fall').getByText('(sender …)').waitFor({ state: 'detached', timeout: 3000 });
    state.setAckDelay(0);
    expect(state.alerts.get('a-fall')).toMatchObject({ ack: 'acknowledged', acknowledgedBy: 'u-kari' });
    const session = [...state.sessions.values()].find((s) => s.user.id === 'u-kari');
    expect(state.calls.find((c) => c.url === '/api/v1/alerts/a-fall/ack')?.csrf).toBe(session?.csrfToken);
    await shot(kari, 'alerts');
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('rolls back an acknowledgement the server refuses; a colleague’s then shows by name', async () => {
    state.setAckDelay(300);
    state.failNextAck({ status: 503, code: 'TRY_ERR_INTERNAL' });
    await card(kari, 'a-door')
      .getByRole('button', { name: /^Kvitter varselet/ })
      .click();
    await card(kari, 'a-door').getByText('Kvittert av deg').waitFor({ timeout: 400 });
    expect(await kari.getByTestId('ack-error').textContent()).toBe('Kvitteringen ble ikke lagret: Noe gikk galt. Prøv igjen.');
    await card(kari, 'a-door').getByText('Ikke kvittert').waitFor();
    state.setAckDelay(0);

    // Ola acknowledges the door (on his phone): Kari's list says so by his name, without a reload.
    state.acknowledge('a-door', 'u-ola');
    await card(kari, 'a-door').getByText('Kvittert av Sykepleier Test 2').waitFor({ timeout: 2000 });
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('checks the resolve form: an outcome, and a note for "other"', async () => {
    await card(kari, 'a-fall')
      .getByRole('link', { name: /^Detaljer og avslutning/ })
      .click();
    await kari.waitForURL(`${base}/alerts/a-fall?resolve=1`);
    await kari.getByRole('heading', { level: 1, name: 'Fall oppdaget' }).waitFor();
    // `?resolve=1`: the focus is on the form's heading.
    await expect.poll(async () => kari.evaluate('document.activeElement?.id')).toBe('resolve-title');
    await shot(kari, 'alert-detail');

    const submit = kari.getByRole('button', { name: 'Avslutt varselet', exact: true });
    await submit.click();
    await kari.getByTestId('resolve-error').getByText('Velg et utfall.').waitFor();
    await expect.poll(async () => kari.evaluate('document.activeElement?.dataset.testid')).toBe('resolve-error');
    await kari.getByLabel('Annet (forklar i notatet)').check();
    await submit.click();
    await kari.getByText('Skriv et notat når utfallet er «Annet».').waitFor();

    await kari.getByLabel('Besøkt – alt i orden').check();
    await kari.getByLabel('Notat', { exact: true }).fill('Hjulpet opp, ingen skade');
    await submit.click();
    await kari.waitForURL(`${base}/`);
    await card(kari, 'a-fall').waitFor({ state: 'detached' });
    await liveRegionHas(kari, 'Varselet er avsluttet.');
    expect(state.alerts.get('a-fall')).toMatchObject({ open: false, outcome: 'visited_ok', resolvedBy: 'u-kari' });
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('wall board: shows and clears alerts live, fits many without scrolling, and reconnects after a server restart', async () => {
    const room = await browsing.newPage({ viewport: { width: 1920, height: 1080 } });
    await login(room, 'teamrom', 'room-pass-1');
    await room.goto(`${base}/tavle`);
    const board = room.getByTestId('tavle-board');
    await board.locator('[data-alert-id="a-door"]').waitFor();

    const started = Date.now();
    state.raise({ id: 'a-smoke', rule: 'smoke', severity: 'critical', title: 'Smoke detected', homeId: 'h-0100', teamId: 'team-south' });
    await board.locator('[data-alert-id="a-smoke"]').waitFor({ timeout: 2000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await room.getByRole('heading', { level: 2 }).allTextContents()).toEqual(['Kritisk 1', 'Høy 1']);
    expect(await room.getByTestId('tavle-clock').textContent()).toMatch(/^\d\d[:.]\d\d$/);
    expect(await board.locator('[data-alert-id="a-door"]').textContent()).toContain('✓ Kvittert av Sykepleier Test 2');
    await shot(room, 'tavle');

    // A busy evening: 40 more alerts still fit on the screen.
    for (let i = 0; i < 40; i += 1) {
      state.raise({
        id: `a-bat-${i}`,
        rule: 'low-battery',
        severity: 'low',
        title: 'Battery low',
        homeId: `h-${String(i).padStart(4, '0')}`,
        kind: 'technical',
      });
    }
    await room.getByText('42 åpne varsler').waitFor();
    const fits = `(() => { const b = document.querySelector('[data-testid=tavle-board]');
      return b.scrollHeight <= b.clientHeight + 1 && document.documentElement.scrollHeight <= innerHeight + 1; })()`;
    await expect.poll(async () => room.evaluate<boolean>(fits), { timeout: 2000 }).toBe(true);
    await shot(room, 'tavle-busy');
    for (let i = 0; i < 40; i += 1) state.resolve(`a-bat-${i}`, 'u-ola', 'technical_fixed');
    await room.getByText('2 åpne varsler').waitFor();

    // The gateway restarts: the board says so, reconnects by itself, and catches up on what happened meanwhile.
    const { port } = server;
    await server.app.close();
    await room.getByTestId('connection-lost').waitFor({ timeout: 5000 });
    await shot(room, 'tavle-connection-lost');
    state.raise({ id: 'a-water', rule: 'water-leak', severity: 'high', title: 'Water leak detected', homeId: 'h-0003' });
    server = await startStubServer(state, publicDir, port);
    await board.locator('[data-alert-id="a-water"]').waitFor({ timeout: 10_000 });
    await room.getByTestId('connection-lost').waitFor({ state: 'detached', timeout: 10_000 });

    // Everything followed up: the board clears.
    for (const id of ['a-door', 'a-smoke', 'a-water']) state.resolve(id, 'u-ola', 'visited_ok');
    await room.getByTestId('tavle-none').waitFor({ timeout: 2000 });
    expect(await audit(room)).toEqual([]);
    await shot(room, 'tavle-empty');
    await room.context().close();
    expect(browsing.problems.splice(0)).toEqual([]);
  }, 45_000);

  it('switches to English and remembers it, shows a nurse only her menu, and logs out', async () => {
    await kari.getByRole('button', { name: 'Switch to English' }).click();
    await kari.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
    await kari.reload();
    await kari.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
    expect(await kari.getAttribute('html', 'lang')).toBe('en');
    expect(await kari.getByRole('navigation').getByRole('link').allTextContents()).toEqual(['Alerts', 'Homes', 'Wall board']);
    // A technician's page opened by address: the API refuses, the page says so (the stub has no such route).
    await kari.goto(`${base}/deadletters`);
    await kari.getByTestId('load-error').first().waitFor();
    await kari.getByRole('button', { name: 'Bytt til norsk' }).click();
    await kari.getByRole('heading', { level: 1, name: 'Avviste meldinger' }).waitFor();

    await kari.getByRole('button', { name: 'Logg ut' }).click();
    await kari.waitForURL(/\/login/);
    const del = state.calls.find((c) => c.method === 'DELETE' && c.url === '/api/v1/session');
    expect(del?.csrf).toMatch(/^[0-9a-f]{32}$/);
    // The session is gone: the pages send us back to the login page.
    await kari.goto(`${base}/tavle`);
    await kari.waitForURL(`${base}/login?next=%2Ftavle`);
    expect(browsing.problems.splice(0)).toEqual([]);
  });
});
