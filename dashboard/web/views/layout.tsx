// The frame of every logged-in page but the wall board: a skip link, the header with the menu, the language
// switch and logout, the connection banner, and <main>.

import type { ComponentChildren } from 'preact';
import { useApp } from '../app-context.js';
import type { Connection } from '../feed.js';
import { navFor } from '../features.js';
import { useFeed } from '../hooks.js';
import { useLanguage, useT } from '../i18n/context.js';
import { useLocation } from '../router.js';

export function Layout({ children }: { children: ComponentChildren }) {
  const t = useT();
  const { user, feed, logout } = useApp();
  const { connection } = useFeed(feed);
  const { pathname } = useLocation();
  const items = navFor(user.role);

  return (
    <>
      <a class="skip-link" href="#main">
        {t.app.skipToContent}
      </a>
      <header class="app-header">
        <div class="app-header__row">
          <span class="app-name">{t.app.name}</span>
          <span class="app-user">{t.app.loggedInAs(user.displayName)}</span>
          <LanguageSwitch />
          <button type="button" class="button button--quiet" onClick={() => void logout()}>
            {t.app.logout}
          </button>
        </div>
        <nav aria-label={t.app.mainNav}>
          <ul class="nav">
            {items.map((item) => {
              const current = item.path === '/' ? pathname === '/' || pathname.startsWith('/alerts') : pathname.startsWith(item.path);
              return (
                <li key={item.key}>
                  <a href={item.path} aria-current={current ? 'page' : undefined}>
                    {t.nav[item.key]}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
      </header>
      <ConnectionBanner connection={connection} />
      <main id="main" class="main">
        {children}
      </main>
    </>
  );
}

export function LanguageSwitch() {
  const { lang, setLang, t } = useLanguage();
  const other = lang === 'nb' ? 'en' : 'nb';
  return (
    <button type="button" class="button button--quiet" lang={other} aria-label={t.app.switchLanguageLabel} onClick={() => setLang(other)}>
      {t.app.switchLanguage}
    </button>
  );
}

/** Shown while the live stream is down: the list on screen may be out of date. */
export function ConnectionBanner({ connection }: { connection: Connection }) {
  const t = useT();
  // The region stays in the page so screen readers announce the message when it appears.
  return (
    <div class="connection" role="status">
      {connection === 'lost' ? (
        <p class="connection__lost" data-testid="connection-lost">
          <span aria-hidden="true">⚠ </span>
          {t.connection.lost}
        </p>
      ) : null}
    </div>
  );
}

/** Announcements for screen readers: new alerts, a resolve done. */
export function LiveRegion({ text }: { text: string }) {
  return (
    <div class="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-region">
      {text}
    </div>
  );
}
