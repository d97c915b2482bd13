import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, pageProblems, screenshots, startBrowsing, type Browsing } from './browser.js';
import {
  addUsers,
  closeAll,
  connectDevice,
  startRealGateway,
  TIME_ZONE,
  within,
  type RealGateway,
  type TestDevice,
  type TestUser,
} from './real-gateway.js';

// Issue 6 item 3, the remaining views, in Debian's headless Chromium against a real gateway (aedes, SQLite,
// influxd 1.6.7, the built dashboard from dist/ — run `npm run build` first): a nurse's homes and a home's page
// (devices, a temperature chart from InfluxDB, a missed dose in the dose log), a technician's devices (offline,
// low battery, a new secret) and dead letters (an invalid payload, replayed; older pages), a team lead's report as
// CSV. Each page passes browser.ts's checks: the audit of its markup, the keyboard and a phone's width.
// Set TRYGGHEIM_SCREENSHOTS=docs/screenshots to refresh the README's home page picture.

const WAIT_MS = 8000;
const HOME = 'home-0401';
const OTHER_HOME = 'home-0402';

let real: RealGateway;
let browsing: Browsing;
const devices = new Map<string, TestDevice>();
const shots = screenshots('gateway-');
let nurse: TestUser;
let tech: TestUser;
let lead: TestUser;

const slotFormat = new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** Publishes a native-format message with its own device time (ts) and waits for the PUBACK. */
async function publishAt(id: string, body: Record<string, unknown>, at: number, seq: number): Promise<void> {
  const d = devices.get(id);
  if (d === undefined) throw new Error(`no device ${id}`);
  const payload = JSON.stringify({ ...body, ts: new Date(at).toISOString(), seq });
  await within(WAIT_MS, d.client.publishAsync(`tryggheim/v1/devices/${id}/up`, payload, { qos: 1 }), `PUBACK ${id}`);
}

beforeAll(async () => {
  real = await startRealGateway();
  const { gw } = real;
  gw.registry.addHome({ id: HOME, teamId: 'team-north', timeZone: TIME_ZONE });
  gw.registry.addHome({ id: OTHER_HOME, teamId: 'team-north', timeZone: TIME_ZONE });
  // A dose 20 minutes ago (on the minute) in the schedule, so the dose log has it; the dispenser reports it missed.
  const doseAt = Math.floor((Date.now() - 20 * 60_000) / 60_000) * 60_000;
  const slot = slotFormat.format(new Date(doseAt));
  gw.alerting.care.setSchedule(HOME, [{ time: slot }]);
  for (const d of [
    { id: 'd-0401-temp-1', kind: 'sensor', homeId: HOME },
    { id: 'd-0401-disp-1', kind: 'dispenser', homeId: HOME },
    { id: 'd-0401-door-1', kind: 'lock', homeId: HOME },
    { id: 'd-0402-temp-1', kind: 'sensor', homeId: OTHER_HOME },
  ] as const) {
    devices.set(d.id, await connectDevice(gw, d));
  }
  // Temperatures over the last three hours (each with its own device time), a low battery, a missed dose.
  const now = Date.now();
  for (let i = 0; i < 6; i++) {
    await publishAt('d-0401-temp-1', { type: 'measurement', temperature_c: 20.5 + (i % 3) * 0.7 }, now - (5 - i) * 30 * 60_000, i + 1);
  }
  await publishAt('d-0401-temp-1', { type: 'status', battery_pct: 6, battery_low: true }, now, 7);
  await publishAt('d-0401-disp-1', { type: 'dose.missed', slot, scheduledAt: new Date(doseAt).toISOString() }, now, 1);
  // An invalid payload (a temperature as text): a dead letter of this home's team.
  await publishAt('d-0401-temp-1', { type: 'measurement', temperature_c: 'warm' }, now, 8);
  // The door lock drops off the network without a goodbye: the broker publishes its last will (offline).
  devices.get('d-0401-door-1')?.client.stream.destroy();

  [nurse, tech, lead] = (await addUsers(gw, [
    { username: 'nurse-v1', role: 'nurse', teams: ['team-north'] },
    { username: 'tech-v1', role: 'technician', teams: ['team-north'] },
    { username: 'lead-v1', role: 'team_lead', teams: ['team-north'] },
  ])) as [TestUser, TestUser, TestUser];

  browsing = await startBrowsing({ timeoutMs: WAIT_MS, context: { locale: 'nb-NO', timezoneId: TIME_ZONE, acceptDownloads: true } });
}, 90_000);

afterAll(async () => {
  await closeAll({ browsing, devices: devices.values(), real });
}, 60_000);

async function loggedIn(user: TestUser, path: string): Promise<Page> {
  const page = await browsing.newPage();
  await login(page, real.base, user, path);
  return page;
}

const navLinks = (page: Page) => page.getByRole('navigation', { name: 'Hovedmeny' }).getByRole('link').allTextContents();

describe('homes, devices, dead letters and the report against a real gateway', () => {
  it("a nurse sees her homes, a home's devices, a temperature chart from InfluxDB and a missed dose", async () => {
    const page = await loggedIn(nurse, '/homes');
    expect(await navLinks(page)).toEqual(['Varsler', 'Hjem', 'Tavle']);
    const tile = page.locator(`[data-home-id="${HOME}"]`);
    await tile.waitFor();
    // The missed dose is an open alert of the home (high); the lock is offline.
    await expect.poll(async () => tile.textContent(), { timeout: WAIT_MS }).toContain('1 Høy');
    expect(await tile.textContent()).toContain('av 3 enheter tilkoblet');
    expect(await pageProblems(page)).toEqual([]);
    await shots.save(page, 'homes');

    await tile.getByRole('link', { name: `Hjem ${HOME}` }).click();
    await page.waitForURL(`${real.base}/homes/${HOME}`);
    await page.getByRole('heading', { level: 1, name: `Hjem ${HOME}` }).waitFor();
    const list = page.getByTestId('home-devices');
    for (const id of ['d-0401-temp-1', 'd-0401-disp-1', 'd-0401-door-1']) await list.locator(`[data-device-id="${id}"]`).waitFor();
    expect(await list.locator('[data-device-id="d-0401-temp-1"]').textContent()).toContain('Lavt batteri');
    expect(await list.locator('[data-device-id="d-0401-door-1"]').textContent()).toContain('Frakoblet');
    expect(await list.locator('[data-device-id="d-0401-disp-1"]').textContent()).toContain('Medisindispenser');

    // The chart: drawn by uPlot (its own chunk) from the series InfluxDB returned.
    const chart = page.getByTestId('chart-temperature_c');
    await chart.locator('canvas').waitFor();
    const label = (await chart.locator('[role=img]').getAttribute('aria-label')) ?? '';
    expect(label).toMatch(/^Romtemperatur \(°C\): [1-9]\d* punkter, laveste 20,5, høyeste 21,9/);

    const missed = page.getByTestId('dose-log').locator('[data-status=missed]');
    await missed.waitFor();
    expect(await missed.textContent()).toContain('Ikke tatt');
    // The recent events (InfluxDB) in words: the dispenser's missed dose, not "missed".
    await expect.poll(async () => page.getByTestId('home-events').textContent(), { timeout: WAIT_MS }).toContain('Dose: Ikke tatt');
    expect(await pageProblems(page)).toEqual([]);
    await shots.save(page, 'home', { doc: 'home' });
    await shots.save(page, 'home-full', { fullPage: true });

    await page.getByRole('radio', { name: 'Siste 7 døgn' }).check();
    await chart.locator('canvas').waitFor();
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('a technician sees the offline lock and the low battery, gets a new secret once, and replays a dead letter', async () => {
    const page = await loggedIn(tech, '/devices');
    expect(await navLinks(page)).toEqual(['Enheter', 'Avviste meldinger']);
    const row = (id: string) => page.getByTestId('device-list').locator(`[data-device-id="${id}"]`);
    await row('d-0401-door-1').waitFor();
    expect(await row('d-0401-door-1').textContent()).toContain('Frakoblet');
    expect(await row('d-0401-temp-1').textContent()).toContain('Lavt batteri');
    expect(await pageProblems(page)).toEqual([]);
    await shots.save(page, 'devices', { fullPage: true });

    await page.getByLabel('Vis', { exact: true }).selectOption('offline');
    await expect.poll(async () => page.getByTestId('device-list').locator('[data-device-id]').count(), { timeout: WAIT_MS }).toBe(1);
    await row('d-0401-door-1').waitFor();

    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Lag ny hemmelighet for d-0401-door-1' }).click();
    const secret = (await page.getByTestId('secret-value').textContent()) ?? '';
    expect(secret.length).toBeGreaterThan(16);
    expect(real.gw.registry.getDevice('d-0401-door-1')?.secretRotatedAt).not.toBeNull();
    await page.getByRole('button', { name: 'Lukk' }).click();
    await page.getByTestId('new-secret').waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Deaktiver enheten d-0401-door-1' }).click();
    await page.getByTestId('device-message').getByText('d-0401-door-1 er deaktivert').waitFor();
    expect(real.gw.registry.getDevice('d-0401-door-1')?.enabled).toBe(false);
    await page.getByRole('button', { name: 'Aktiver enheten d-0401-door-1' }).click();
    await page.getByTestId('device-message').getByText('d-0401-door-1 er aktivert').waitFor();

    await page.getByRole('navigation', { name: 'Hovedmeny' }).getByRole('link', { name: 'Avviste meldinger' }).click();
    await page.getByRole('heading', { level: 1, name: 'Avviste meldinger' }).waitFor();
    const letter = page.getByTestId('deadletter-list').locator('[data-deadletter-id]').filter({ hasText: 'd-0401-temp-1' }).first();
    await letter.waitFor();
    expect(await letter.textContent()).toContain('Ugyldig innhold');
    const id = await letter.getAttribute('data-deadletter-id');
    await letter.getByRole('button', { name: `Vis innholdet i melding ${id}` }).click();
    expect(await page.getByTestId('deadletter-detail').locator('pre').textContent()).toContain('"temperature_c":"warm"');
    await page.getByTestId('adapters').getByText('tryggheim', { exact: true }).waitFor();
    expect(await pageProblems(page)).toEqual([]);
    await shots.save(page, 'deadletters', { fullPage: true });

    await letter.getByRole('button', { name: `Send melding ${id} på nytt` }).click();
    await page.getByTestId('deadletter-message').getByText(`Melding ${id} er lagt tilbake i køen`).waitFor();
    // Replayed ones leave the default list.
    await page.locator(`[data-deadletter-id="${id}"]`).waitFor({ state: 'detached' });
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('a team lead sees the follow-up report and downloads it as CSV', async () => {
    const page = await loggedIn(lead, '/report');
    expect(await navLinks(page)).toEqual(['Varsler', 'Hjem', 'Tavle', 'Oppfølgingsrapport']);
    const row = page.getByTestId('report-table').locator('[data-team="team-north"]');
    await row.waitFor();
    expect(await row.textContent()).toMatch(/team-north\d+/);
    expect(await pageProblems(page)).toEqual([]);
    await shots.save(page, 'report');

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), page.getByTestId('report-csv').click()]);
    expect(download.suggestedFilename()).toMatch(/^follow-up-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = await readFile(await download.path(), 'utf8');
    expect(csv.split(/\r?\n/)[0]).toMatch(/team/i);
    expect(csv).toContain('team-north');
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('pages through older dead letters, by keyboard, and replays one of an older page', async () => {
    // 130 dead letters of one device: more than the list's first page (100).
    const OLDER = 30;
    for (let i = 0; i < 100 + OLDER; i++) {
      await publishAt('d-0402-temp-1', { type: 'measurement', temperature_c: `warm-${i}` }, Date.now(), i + 1);
    }
    const page = await loggedIn(tech, '/deadletters');
    const count = async () =>
      page.evaluate(async () => {
        const res = await fetch('/api/v1/dead-letters?device=d-0402-temp-1&limit=500');
        return ((await res.json()) as { deadLetters: unknown[] }).deadLetters.length;
      });
    await expect.poll(count, { timeout: WAIT_MS }).toBe(100 + OLDER);

    // The device filter, by keyboard: type the id, Enter submits.
    await page.getByLabel('Enhet (id)', { exact: true }).focus();
    await page.keyboard.type('d-0402-temp-1');
    await page.keyboard.press('Enter');
    const rows = page.getByTestId('deadletter-list').locator('[data-deadletter-id]');
    await expect.poll(async () => rows.count(), { timeout: WAIT_MS }).toBe(100);
    expect(await page.locator('.page-head__count').textContent()).toBe('100 meldinger, flere eldre finnes');

    const older = page.getByRole('button', { name: 'Vis eldre meldinger' });
    await older.focus();
    await page.keyboard.press('Enter');
    await expect.poll(async () => rows.count(), { timeout: WAIT_MS }).toBe(100 + OLDER);
    const ids = await page.evaluate<number[]>(
      `[...document.querySelectorAll('[data-testid=deadletter-list] [data-deadletter-id]')].map((e) => Number(e.getAttribute('data-deadletter-id')))`,
    );
    // Newest first, each once, the older page after the first.
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);
    await page.getByTestId('deadletter-message').getByText(`${OLDER} eldre meldinger hentet.`).waitFor();
    await page.getByTestId('deadletter-end').getByText('Ingen eldre meldinger.').waitFor();
    expect(await older.count()).toBe(0);
    // The focus went to the first row of the older page, so the keyboard carries on there.
    const first = ids[100] as number;
    expect(await page.evaluate('document.activeElement?.getAttribute("data-deadletter-id")')).toBe(String(first));
    expect(await pageProblems(page, { maxTabs: 600 })).toEqual([]);

    // Tab to its replay button (past "show content"), Enter: it leaves the list, the focus goes on to the next row.
    await page.locator(`[data-deadletter-id="${first}"]`).focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe(`Send melding ${first} på nytt`);
    await page.keyboard.press('Enter');
    await page.getByTestId('deadletter-message').getByText(`Melding ${first} er lagt tilbake i køen`).waitFor();
    await page.locator(`[data-deadletter-id="${first}"]`).waitFor({ state: 'detached' });
    expect(await rows.count()).toBe(100 + OLDER - 1);
    expect(await page.evaluate('document.activeElement?.getAttribute("data-deadletter-id")')).toBe(String(ids[101]));
    expect(browsing.problems.splice(0)).toEqual([]);
  });

  it('keeps the README picture of a home page small', async () => {
    if (shots.docs === undefined) return;
    expect((await stat(join(shots.docs, 'home.png'))).size).toBeLessThan(150 * 1024);
  });
});
