import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../dashboard/build.js';
import { createStubState, startStubServer, type StubState } from './stub-api.js';

// The dashboard in a real headless Chromium (Debian's), served by dashboardRoutes, against a STUB API: a test
// double of the issue-6 session/alerts contract (stub-api.ts), because the real session API is being built.
// The same flow against the real gateway (broker, simulator, InfluxDB) follows once that API exists.
// The tests run in order and share the stub's state and Kari's page, like a shift: log in, an alert comes in,
// acknowledge, a colleague acts, resolve, the wall board, a phone, the language switch, log out.

const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
const USERS = [
  { id: 'u-kari', username: 'kari', displayName: 'Kari Nordmann', role: 'nurse', teams: ['team-north'], password: 'kari-pass-1' },
  { id: 'u-ola', username: 'ola', displayName: 'Ola Nordmann', role: 'nurse', teams: ['team-north'], password: 'ola-pass-1' },
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
let browser: Browser;
const contexts: BrowserContext[] = [];
/** CSP violations and uncaught errors in any page: must stay empty. */
const problems: string[] = [];
let kari: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  publicDir = mkdtempSync(join(tmpdir(), 'tryggheim-dashboard-e2e-'));
  await buildDashboard({ outDir: publicDir });
  state = createStubState(USERS);
  server = await startStubServer(state, publicDir);
  base = `http://127.0.0.1:${server.port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // Chromium's sandbox cannot start as root (CI containers); as a normal user it stays on.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    timeout: 20_000,
  });
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser.close().catch(() => undefined);
  await server.app.close();
  rmSync(publicDir, { recursive: true, force: true });
});

async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  contexts.push(ctx);
  ctx.setDefaultTimeout(5000);
  ctx.setDefaultNavigationTimeout(10_000);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function login(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel('Brukernavn', { exact: true }).fill(username);
  await page.getByLabel('Passord', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Logg inn', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Varsler' }).waitFor();
}

/** Page-level accessibility basics: a language, one h1, a label on every control, a name on every button and link. */
async function audit(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const out = [];
    if (!document.documentElement.lang) out.push('html has no lang');
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) out.push('h1 count ' + h1);
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (!(el.labels && el.labels.length > 0) && !el.hasAttribute('aria-label')) out.push('unlabelled ' + el.outerHTML.slice(0, 80));
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (((el.getAttribute('aria-label') || el.textContent) || '').trim() === '') out.push('nameless ' + el.outerHTML.slice(0, 80));
    }
    return out;
  })()`);
}

const card = (page: Page, id: string) => page.locator(`[data-alert-id="${id}"]`);
const liveRegionHas = (page: Page, text: string) =>
  page.waitForFunction(`document.querySelector('[data-testid=live-region]').textContent.includes(${JSON.stringify(text)})`, undefined, {
    timeout: 3000,
  });

describe('dashboard in headless Chromium against a stub API (test double of the issue-6 contract)', () => {
  it('sends a visitor to the login page, refuses a wrong password, and logs in', async () => {
    kari = await newPage();
    await kari.goto(`${base}/`);
    await kari.waitForURL(`${base}/login?next=%2F`);
    await kari.getByRole('heading', { level: 1, name: 'Logg inn' }).waitFor();
    expect(await audit(kari)).toEqual([]);
    await shot(kari, 'login');

    await kari.getByLabel('Brukernavn', { exact: true }).fill('kari');
    await kari.getByLabel('Passord', { exact: true }).fill('wrong');
    await kari.getByRole('button', { name: 'Logg inn', exact: true }).click();
    expect(await kari.getByTestId('login-error').textContent()).toBe('Feil brukernavn eller passord.');

    await kari.getByLabel('Passord', { exact: true }).fill('kari-pass-1');
    await kari.getByRole('button', { name: 'Logg inn', exact: true }).click();
    await kari.getByRole('heading', { level: 1, name: 'Varsler' }).waitFor();
    expect(kari.url()).toBe(`${base}/`);
    await kari.getByTestId('alerts-empty').waitFor();
    expect(problems.splice(0)).toEqual([]);
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
    expect(fall).toContain('Fall oppdaget');
    expect(fall).toContain('Hjem h-0001');
    // The page clock ticks once a second, so it may still be a moment before the raise: 30:0x.
    expect(fall).toMatch(/frist om (30:0\d|29:\d\d)/);
    expect(fall).toContain('Ikke kvittert');
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
    expect(await audit(kari)).toEqual([]);
    await shot(kari, 'alerts');
    expect(problems.splice(0)).toEqual([]);
  });

  it("rolls back an acknowledgement the server refuses, and shows a colleague's acknowledgement live", async () => {
    state.setAckDelay(300);
    state.failNextAck({ status: 503, code: 'TRY_ERR_INTERNAL' });
    await card(kari, 'a-door')
      .getByRole('button', { name: /^Kvitter varselet/ })
      .click();
    await card(kari, 'a-door').getByText('Kvittert av deg').waitFor({ timeout: 400 });
    expect(await kari.getByTestId('ack-error').textContent()).toBe('Kvitteringen ble ikke lagret: Noe gikk galt. Prøv igjen.');
    await card(kari, 'a-door').getByText('Ikke kvittert').waitFor();
    state.setAckDelay(0);

    // Ola, on his own phone, acknowledges the door: Kari's list updates without a reload.
    const ola = await newPage();
    await login(ola, 'ola', 'ola-pass-1');
    await card(ola, 'a-door')
      .getByRole('button', { name: /^Kvitter varselet/ })
      .click();
    await card(kari, 'a-door').getByText('Kvittert av u-ola').waitFor({ timeout: 2000 });
    expect(
      await card(kari, 'a-door')
        .getByRole('button', { name: /^Kvitter varselet/ })
        .count(),
    ).toBe(0);
    await ola.context().close();
    expect(problems.splice(0)).toEqual([]);
  });

  it('shows the evidence and the timeline, and resolves with an outcome and a note', async () => {
    await card(kari, 'a-fall')
      .getByRole('link', { name: /^Detaljer og avslutning/ })
      .click();
    await kari.waitForURL(`${base}/alerts/a-fall?resolve=1`);
    await kari.getByRole('heading', { level: 1, name: 'Fall oppdaget' }).waitFor();
    expect(await kari.getByTestId('evidence').textContent()).toContain('sensor reported it');
    const timeline = kari.getByTestId('timeline');
    await timeline.getByText('Kvittert').waitFor();
    expect(await timeline.textContent()).toMatch(/Utløst – regel: Fall.*Kvittert – deg/s);
    expect(await audit(kari)).toEqual([]);
    await shot(kari, 'alert-detail');

    const submit = kari.getByRole('button', { name: 'Avslutt varselet', exact: true });
    await submit.click();
    await kari.getByText('Velg et utfall.').waitFor();
    await kari.getByLabel('Annet (forklar i notatet)').check();
    await submit.click();
    await kari.getByText('Skriv et notat når utfallet er «Annet».').waitFor();

    await kari.getByLabel('Besøkt – alt i orden').check();
    await kari.getByLabel('Notat', { exact: true }).fill('Hjulpet opp, ingen skade');
    await submit.click();
    await kari.waitForURL(`${base}/`);
    await card(kari, 'a-fall').waitFor({ state: 'detached' });
    await liveRegionHas(kari, 'Varselet er avsluttet.');
    expect(state.alerts.get('a-fall')).toMatchObject({
      open: false,
      outcome: 'visited_ok',
      resolveNote: 'Hjulpet opp, ingen skade',
      resolvedBy: 'u-kari',
    });
    expect(problems.splice(0)).toEqual([]);
  });

  it('wall board: shows and clears alerts live, fits many without scrolling, and reconnects after a server restart', async () => {
    const room = await newPage({ viewport: { width: 1920, height: 1080 } });
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
    expect(await board.locator('[data-alert-id="a-door"]').textContent()).toContain('Kvittert');
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
    await room.waitForFunction(fits, undefined, { timeout: 2000 });
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
    expect(problems.splice(0)).toEqual([]);
  }, 45_000);

  it('works on a phone (390×844): list, one-tap acknowledge, detail and resolve, wall board', async () => {
    const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    state.raise({ id: 'a-dose', rule: 'missed-dose', severity: 'high', title: 'Dose not taken', homeId: 'h-0042', agoMinutes: 20 });
    await phone.goto(`${base}/`);
    await phone.getByLabel('Brukernavn', { exact: true }).waitFor();
    await shot(phone, 'phone-login');
    await login(phone, 'kari', 'kari-pass-1');
    await card(phone, 'a-dose').waitFor();
    const noSideScroll = 'document.documentElement.scrollWidth <= window.innerWidth';
    expect(await phone.evaluate(noSideScroll)).toBe(true);
    await card(phone, 'a-dose')
      .getByRole('button', { name: /^Kvitter varselet/ })
      .tap();
    await card(phone, 'a-dose').getByText('Kvittert av deg').waitFor();
    await shot(phone, 'phone-alerts');

    await card(phone, 'a-dose')
      .getByRole('link', { name: /^Detaljer og avslutning/ })
      .tap();
    await phone.getByRole('heading', { level: 1, name: 'Dose ikke tatt' }).waitFor();
    expect(await phone.evaluate(noSideScroll)).toBe(true);
    await shot(phone, 'phone-detail');
    await phone.getByLabel('Kontaktet på telefon').tap();
    await phone.getByRole('button', { name: 'Avslutt varselet', exact: true }).tap();
    await phone.waitForURL(`${base}/`);
    await phone.getByTestId('alerts-empty').waitFor();

    await phone.goto(`${base}/tavle`);
    await phone.getByTestId('tavle-none').waitFor();
    expect(await phone.evaluate(noSideScroll)).toBe(true);
    await shot(phone, 'phone-tavle');
    await phone.context().close();
    expect(problems.splice(0)).toEqual([]);
  });

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
    expect(problems.splice(0)).toEqual([]);
  });
});
