// The dashboard: session check, then the page for the address. Logged-out visitors go to /login (and back to
// where they were after logging in); a 401 from any request does the same.

import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { createApi } from './api.js';
import { AppContext, type AppContextValue } from './app-context.js';
import { createAlertFeed } from './feed.js';
import { LanguageProvider, useT } from './i18n/context.js';
import { alertTitle, homeLabel } from './i18n/index.js';
import { homePathFor } from './features.js';
import { safeNext, type Route } from './paths.js';
import { interceptLinks, navigate, useLocation } from './router.js';
import type { Session } from './types.js';
import { AlertDetailPage } from './views/alert-detail.js';
import { AlertListPage } from './views/alert-list.js';
import { Layout, LiveRegion } from './views/layout.js';
import { LoginPage } from './views/login.js';
import { DeadLettersPage } from './views/dead-letters.js';
import { DevicesPage } from './views/devices.js';
import { HomePage } from './views/home-page.js';
import { HomesPage } from './views/homes.js';
import { NotFoundPage } from './views/not-found.js';
import { ReportPage } from './views/report.js';
import { TavlePage } from './views/tavle.js';

export function App() {
  return (
    <LanguageProvider>
      <Shell />
    </LanguageProvider>
  );
}

/** undefined: still asking the server; null: not logged in. */
type SessionState = Session | null | undefined;

function Shell() {
  const t = useT();
  const loc = useLocation();
  const [session, setSession] = useState<SessionState>(undefined);
  const [announcement, setAnnouncement] = useState('');
  const csrf = useRef<string | undefined>(undefined);
  const rootRef = useRef<HTMLDivElement>(null);

  const api = useMemo(() => createApi({ csrfToken: () => csrf.current, onUnauthorized: () => setSession(null) }), []);

  useEffect(() => {
    api.session().then(
      (s) => {
        csrf.current = s?.csrfToken;
        setSession(s ?? null);
      },
      () => setSession(null),
    );
  }, [api]);

  // Not logged in: to the login page, remembering where we were. Logged in on the login page: onwards.
  const onLogin = loc.route.name === 'login';
  useEffect(() => {
    if (session === null && !onLogin) {
      navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    } else if (session !== null && session !== undefined && onLogin) {
      navigate(safeNext(loc.search.get('next')), { replace: true });
    }
  }, [session, onLogin, loc.search]);

  const userId = session?.user.id;
  const feed = useMemo(
    () => (userId === undefined ? undefined : createAlertFeed({ api, me: userId, onUnauthorized: () => setSession(null) })),
    [api, userId],
  );
  // A technician has no alerts (gateway/auth/roles.ts): no stream to hold open, and `/` is the device list.
  const role = session?.user.role;
  const boardSession = session?.sessionKind === 'board';
  useEffect(() => {
    if (role === 'technician' && (loc.route.name === 'alerts' || loc.route.name === 'tavle'))
      navigate(homePathFor(role), { replace: true });
    // A wall-board session shows the board and nothing else (the gateway refuses it the rest).
    else if (boardSession && loc.route.name !== 'tavle' && loc.route.name !== 'login') navigate('/tavle', { replace: true });
  }, [role, boardSession, loc.route.name]);
  useEffect(() => {
    if (feed === undefined || role === 'technician') return;
    feed.start();
    return () => feed.stop();
  }, [feed, role]);

  const announce = useCallback((text: string) => setAnnouncement(text), []);
  useEffect(
    () =>
      feed?.onRaised((alert) =>
        announce(t.alerts.announceRaised(alertTitle(alert, t), homeLabel(alert.homeId, t), t.severity[alert.severity])),
      ),
    [feed, t, announce],
  );

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      csrf.current = undefined;
      setSession(null);
    }
  }, [api]);

  useEffect(() => (rootRef.current === null ? undefined : interceptLinks(rootRef.current)), []);

  // Move focus to the new page's heading so screen readers hear where they are (not on the first load).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    // The page's h1 (the wall board's sits in its own header, outside <main>) — unless the page has put the focus
    // somewhere in its content itself (an alert's resolve form, opened with ?resolve=1).
    if (document.activeElement?.closest('main') != null) return;
    document.querySelector<HTMLElement>('h1')?.focus();
  }, [loc.pathname]);

  const context = useMemo<AppContextValue | undefined>(
    () => (session && feed ? { user: session.user, api, feed, logout, announce } : undefined),
    [session, feed, api, logout, announce],
  );

  let page;
  if (onLogin) {
    page = (
      <LoginPage
        api={api}
        onLoggedIn={(s) => {
          csrf.current = s.csrfToken;
          setSession(s);
        }}
      />
    );
  } else if (context === undefined) {
    page = (
      <p class="loading" role="status">
        {t.app.loading}
      </p>
    );
  } else {
    page = <AppContext.Provider value={context}>{pageFor(loc.route)}</AppContext.Provider>;
  }

  return (
    <div ref={rootRef} class="root">
      {page}
      <LiveRegion text={announcement} />
    </div>
  );
}

function pageFor(route: Route) {
  switch (route.name) {
    case 'tavle':
      return <TavlePage />;
    case 'alerts':
      return (
        <Layout>
          <AlertListPage />
        </Layout>
      );
    case 'alert':
      return (
        <Layout>
          <AlertDetailPage id={route.id} />
        </Layout>
      );
    case 'homes':
      return (
        <Layout>
          <HomesPage />
        </Layout>
      );
    case 'home':
      return (
        <Layout>
          <HomePage id={route.id} />
        </Layout>
      );
    case 'devices':
      return (
        <Layout>
          <DevicesPage />
        </Layout>
      );
    case 'deadLetters':
      return (
        <Layout>
          <DeadLettersPage />
        </Layout>
      );
    case 'report':
      return (
        <Layout>
          <ReportPage />
        </Layout>
      );
    case 'login':
    case 'notFound':
      return (
        <Layout>
          <NotFoundPage />
        </Layout>
      );
  }
}
