import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

// What every browser test of the dashboard shares: Debian's Chromium, pages that record CSP violations and
// uncaught errors, logging in through the login page, screenshots, and the checks a page must pass — an axe-like
// audit of its markup, the keyboard (every control reached by Tab, the focus visible) and a phone's width.

/** Debian's Chromium, headless (never a downloaded browser). Its sandbox cannot start as root (CI containers). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    timeout: 20_000,
  });
}

export interface Browsing {
  readonly browser: Browser;
  /** CSP violations and uncaught errors in any page so far: a test takes them (`problems.splice(0)`) and expects none. */
  readonly problems: string[];
  /** A page in a new context with the defaults and `options` over them, or a new page in `context`. */
  newPage(options?: BrowserContextOptions, context?: BrowserContext): Promise<Page>;
  /** Closes every context and the browser, each step bounded. */
  close(): Promise<void>;
}

export async function startBrowsing(defaults: {
  /** Every wait that is not given its own timeout. */
  timeoutMs: number;
  context?: BrowserContextOptions;
  /** Run in every page before its scripts (e.g. real-gateway.ts's SEEN_SCRIPT). */
  initScript?: string;
}): Promise<Browsing> {
  const browser = await launchChromium();
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  return {
    browser,
    problems,
    async newPage(options = {}, context) {
      let ctx = context;
      if (ctx === undefined) {
        ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...defaults.context, ...options });
        contexts.push(ctx);
        ctx.setDefaultTimeout(defaults.timeoutMs);
        ctx.setDefaultNavigationTimeout(10_000);
        if (defaults.initScript !== undefined) await ctx.addInitScript(defaults.initScript);
      }
      const page = await ctx.newPage();
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
      });
      return page;
    },
    async close() {
      const bounded = (p: Promise<unknown>, ms: number) =>
        Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
      for (const c of contexts) await bounded(c.close(), 5000);
      await bounded(browser.close(), 10_000);
    },
  };
}

/** Opens `next` logged out, is sent to the login page, logs in there (in bokmål) and is sent back. */
export async function login(page: Page, base: string, user: { username: string; password: string }, next = '/'): Promise<void> {
  await page.goto(`${base}${next}`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel('Brukernavn', { exact: true }).fill(user.username);
  await page.getByLabel('Passord', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Logg inn', exact: true }).click();
  await page.waitForURL(`${base}${next}`);
}

export const NO_SIDE_SCROLL = 'document.documentElement.scrollWidth <= window.innerWidth';

/**
 * An axe-like audit of the page as it is now; each finding is a line naming the element. The rules: the page has a
 * language and one h1; headings go down one level at a time; every form control has a label and every button and
 * link a name; aria-label(ledby) only where a name is allowed (not on a plain div, span or p); an element focusable
 * by Tab that is not a control has a role and a name; every id an attribute points to exists, and no id is used
 * twice; lists hold list items and list items sit in lists; images have a text alternative; there is a <main>;
 * text has AA contrast against the background it is painted on.
 */
export async function audit(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const out = [];
    const show = (el) => el.outerHTML.slice(0, 100);
    const text = (el) => (el.textContent || '').trim();
    const byIds = (list) => (list || '').split(/\\s+/).filter(Boolean).map((id) => document.getElementById(id));
    const nameOf = (el) => {
      const by = el.getAttribute('aria-labelledby');
      if (by) return byIds(by).map((e) => (e ? text(e) : '')).join(' ').trim();
      const label = (el.getAttribute('aria-label') || '').trim();
      if (label) return label;
      if (el.labels && el.labels.length > 0) return [...el.labels].map(text).join(' ').trim();
      return (text(el) || [...el.querySelectorAll('img[alt]')].map((i) => i.alt).join(' ')).trim();
    };
    if (!document.documentElement.lang) out.push('html has no lang');
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) out.push('h1 count ' + h1);
    if (document.querySelectorAll('main').length !== 1) out.push('main count ' + document.querySelectorAll('main').length);
    let level = 0;
    for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
      const n = Number(h.tagName[1]);
      if (level > 0 && n > level + 1) out.push('heading skips from h' + level + ': ' + show(h));
      level = n;
    }
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (nameOf(el) === '') out.push('unlabelled ' + show(el));
    }
    for (const el of document.querySelectorAll('button, a[href], [role=button], [role=link]')) {
      if (nameOf(el) === '') out.push('nameless ' + show(el));
    }
    // Roles that may not be named (WAI-ARIA 1.2), as the HTML elements that have them implicitly.
    const unnamed = ['div', 'span', 'p', 'b', 'i', 'strong', 'em', 'code', 'pre', 'small', 'del', 'ins', 'sub', 'sup', 's', 'u'];
    const prohibited = ['generic', 'paragraph', 'presentation', 'none', 'strong', 'emphasis', 'code', 'caption', 'deletion', 'insertion', 'subscript', 'superscript'];
    for (const el of document.querySelectorAll('[aria-label], [aria-labelledby]')) {
      const role = el.getAttribute('role');
      if (role ? prohibited.includes(role) : unnamed.includes(el.tagName.toLowerCase())) out.push('name not allowed here ' + show(el));
    }
    const controls = 'a[href], button, input, select, textarea, summary';
    for (const el of document.querySelectorAll('[tabindex]')) {
      if (el.tabIndex < 0 || el.matches(controls)) continue;
      if (!el.getAttribute('role') || nameOf(el) === '') out.push('focusable without a role and a name ' + show(el));
    }
    for (const attr of ['aria-labelledby', 'aria-describedby', 'aria-controls', 'for']) {
      for (const el of document.querySelectorAll('[' + attr + ']')) {
        if (byIds(el.getAttribute(attr)).some((e) => e === null)) out.push(attr + ' points nowhere ' + show(el));
      }
    }
    const seen = new Set();
    for (const el of document.querySelectorAll('[id]')) {
      if (seen.has(el.id)) out.push('duplicate id ' + el.id);
      seen.add(el.id);
    }
    for (const el of document.querySelectorAll('li')) {
      if (!el.parentElement || !el.parentElement.matches('ul, ol, menu')) out.push('list item outside a list ' + show(el));
    }
    for (const el of document.querySelectorAll('ul, ol')) {
      for (const child of el.children) if (!child.matches('li, script, template')) out.push('list holds ' + show(child));
    }
    for (const el of document.querySelectorAll('img:not([alt])')) out.push('image without alt ' + show(el));
    for (const el of document.querySelectorAll('[role=img]')) {
      if (!(el.getAttribute('aria-label') || '').trim() && !el.getAttribute('aria-labelledby')) out.push('image without a text alternative ' + show(el));
    }
    // Text contrast as rendered (WCAG 1.4.3 AA): what the cascade made of the stylesheets, which contrast.test.ts
    // checks colour pair by colour pair. The background is the nearest one painted, blended down to opaque.
    const rgba = (c) => {
      const m = c.match(/rgba?\\(([^)]+)\\)/);
      if (!m) return [0, 0, 0, 0];
      const [r, g, b, a] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return [r, g, b, a === undefined ? 1 : a];
    };
    const over = (top, bottom) => {
      const a = top[3] + bottom[3] * (1 - top[3]);
      return a === 0 ? [255, 255, 255, 1] : [0, 1, 2].map((i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a).concat(1);
    };
    const background = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      return layers.reduceRight((acc, c) => over(c, acc), [255, 255, 255, 1]);
    };
    const luminance = (c) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const checked = new Set();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || checked.has(el) || !node.textContent.trim()) continue;
      checked.add(el);
      if (el.closest('.sr-only, .skip-link, canvas, svg, option, script, style, [aria-hidden=true]')) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
      const bg = background(el);
      const fg = over(rgba(style.color), bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) out.push('contrast ' + ratio.toFixed(2) + ' ' + show(el));
    }
    return out;
  })()`);
}

/**
 * Tabs through the page from its start: every control a keyboard should reach is reached (for a radio group, one of
 * its radios), in document order, and shows where the focus is (an outline or a ring). Returns the findings.
 */
export async function keyboardProblems(page: Page, maxTabs = 300): Promise<string[]> {
  const expected = await page.evaluate<{ key: string; what: string }[]>(`(() => {
    const out = [];
    const radios = new Set();
    let n = 0;
    const candidates = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]';
    for (const el of document.querySelectorAll(candidates)) {
      if (el.tabIndex < 0 || el.closest('[inert], [hidden]')) continue;
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (style.visibility === 'hidden' || style.display === 'none' || (box.width === 0 && box.height === 0)) continue;
      let key = 'kb-' + n++;
      if (el.type === 'radio') {
        key = 'radio-' + el.name;
        if (radios.has(key)) { el.setAttribute('data-kb', key); continue; }
        radios.add(key);
      }
      el.setAttribute('data-kb', key);
      out.push({ key, what: el.outerHTML.slice(0, 100) });
    }
    const start = document.createElement('span');
    start.tabIndex = -1;
    start.id = 'kb-start';
    document.body.prepend(start);
    start.focus();
    return out;
  })()`);
  const reached: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate<{ key: string | null; visible: boolean; what: string } | null>(`(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 || style.boxShadow !== 'none';
      return { key: el.getAttribute('data-kb'), visible, what: el.outerHTML.slice(0, 100) };
    })()`);
    if (at === null) break;
    // A date field's day, month and year are Tab stops of one element.
    if (at.key !== null && at.key === reached.at(-1)) continue;
    if (at.key !== null && reached.includes(at.key)) break;
    if (at.key === null) {
      problems.push(`reached by Tab but not a control: ${at.what}`);
      continue;
    }
    reached.push(at.key);
    if (!at.visible) problems.push(`focus not visible: ${at.what}`);
  }
  // Leave the page as it was for what the test does next (and its screenshots): nothing focused, at the top.
  await page.evaluate(`(() => { document.getElementById('kb-start')?.remove(); document.activeElement?.blur(); scrollTo(0, 0); })()`);
  for (const e of expected) if (!reached.includes(e.key)) problems.push(`not reached by Tab: ${e.what}`);
  const order = expected.map((e) => e.key).filter((k) => reached.includes(k));
  if (reached.join() !== order.join()) problems.push(`Tab order is not the document order: ${reached.join(' ')}`);
  return problems;
}

/**
 * The page on a phone (390×844): no sideways scrolling (and what sticks out), and touch targets at least 44 px
 * high — buttons, menus, fields and the labels of checkboxes and radios (links inside text are exempt). The
 * viewport is put back afterwards.
 */
export async function phoneProblems(page: Page): Promise<string[]> {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    return await page.evaluate<string[]>(`(() => {
      const out = [];
      const show = (el) => el.outerHTML.slice(0, 100);
      if (document.documentElement.scrollWidth > innerWidth) {
        out.push('scrolls sideways: ' + document.documentElement.scrollWidth + ' px');
        for (const el of document.querySelectorAll('body *')) {
          const box = el.getBoundingClientRect();
          if (box.right > innerWidth + 1 && !el.closest('.table-wrap, .payload, .sr-only, .skip-link')) out.push('sticks out: ' + show(el));
          if (out.length > 6) break;
        }
      }
      const targets = 'button, .button, select, input:not([type=checkbox]):not([type=radio]), textarea, nav a, label.choice, .segmented__option';
      for (const el of document.querySelectorAll(targets)) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue;
        if (el.closest('.sr-only')) continue;
        if (box.height < 43.5) out.push('touch target ' + Math.round(box.height) + ' px high: ' + show(el));
      }
      return out;
    })()`);
  } finally {
    if (before !== null) await page.setViewportSize(before);
  }
}

/** All three checks of a page (audit, keyboard, phone), each finding prefixed with the check's name. */
export async function pageProblems(page: Page, opts: { maxTabs?: number } = {}): Promise<string[]> {
  return [
    ...(await audit(page)).map((p) => `audit: ${p}`),
    ...(await keyboardProblems(page, opts.maxTabs)).map((p) => `keyboard: ${p}`),
    ...(await phoneProblems(page)).map((p) => `phone: ${p}`),
  ];
}

/**
 * Screenshots: always to test-artifacts/screenshots/<prefix><name>.png (CI artifacts); the ones the README shows
 * also to `TRYGGHEIM_SCREENSHOTS` (e.g. docs/screenshots) as <doc>.png when that is set.
 */
export function screenshots(prefix: string): {
  artifacts: string;
  docs: string | undefined;
  save(page: Page, name: string, opts?: { doc?: string; fullPage?: boolean }): Promise<void>;
} {
  const artifacts = resolve('test-artifacts/screenshots');
  const docsEnv = process.env.TRYGGHEIM_SCREENSHOTS;
  const docs = docsEnv !== undefined && docsEnv !== '' ? resolve(docsEnv) : undefined;
  mkdirSync(artifacts, { recursive: true });
  if (docs !== undefined) mkdirSync(docs, { recursive: true });
  return {
    artifacts,
    docs,
    async save(page, name, opts = {}) {
      const file = join(artifacts, `${prefix}${name}.png`);
      // By default the viewport, not the full page: what a nurse sees on the screen, and a small file for the README.
      await page.screenshot({ path: file, animations: 'disabled', caret: 'hide', fullPage: opts.fullPage === true });
      if (docs !== undefined && opts.doc !== undefined) copyFileSync(file, join(docs, `${opts.doc}.png`));
    },
  };
}
