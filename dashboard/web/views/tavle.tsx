// The team room's wall board ("tavle"): the open alerts of the user's teams (or `?team=` one of them),
// grouped by severity, large and high-contrast, with a clock. Nobody touches it: it follows the stream, says
// so when the stream is down, and after a gateway restart reconnects and re-reads the list (feed.ts). The
// board shrinks its text until everything fits, so it never needs scrolling.

import { useEffect, useRef } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { groupBySeverity, visibleAlerts, type AlertView } from '../alert-state.js';
import { countdown, formatClock, formatElapsed, since } from '../format.js';
import { useFeed, useFitText, useNow } from '../hooks.js';
import { useT } from '../i18n/context.js';
import { alertTitle, homeLabel } from '../i18n/index.js';
import { useTitle } from '../load.js';
import { useLocation } from '../router.js';
import { ConnectionBanner } from './layout.js';

export function TavlePage() {
  const t = useT();
  const { user, feed } = useApp();
  const snap = useFeed(feed);
  const now = useNow(1000);
  const { search } = useLocation();
  const team = search.get('team') ?? undefined;
  const teams = team ?? user.teams.join(', ');
  const alerts = visibleAlerts(snap.state, { team });
  const groups = groupBySeverity(alerts).filter((g) => g.alerts.length > 0);
  const boardRef = useRef<HTMLDivElement>(null);
  // Re-fit when what is shown changes (not on every tick of the clock): the tiles, their state, the minute.
  const layoutKey = `${alerts.map((a) => `${a.id}:${a.ack}`).join(',')}|${Math.floor(now / 60_000)}|${snap.loaded}`;
  useFitText(boardRef, 8, 44, [layoutKey, t]);

  useTitle(t.tavle.title, t.app.name);
  useScreenAwake();

  return (
    <div class="tavle">
      <header class="tavle__head">
        <h1 tabIndex={-1}>
          {t.tavle.title}
          {teams === '' ? null : <span class="tavle__teams">{t.tavle.teams(teams)}</span>}
        </h1>
        <p class="tavle__status">
          <span data-testid="tavle-count">{t.alerts.count(alerts.length)}</span>
          {snap.updatedAt !== undefined ? (
            <span class="tavle__updated">{t.tavle.updated(formatClock(snap.updatedAt, t.locale))}</span>
          ) : null}
        </p>
        <time class="tavle__clock" dateTime={new Date(now).toISOString()} data-testid="tavle-clock">
          {formatClock(now, t.locale)}
        </time>
      </header>
      <ConnectionBanner connection={snap.connection} />
      <main id="main" class="tavle__board" ref={boardRef} data-testid="tavle-board">
        {!snap.loaded ? (
          <p class="tavle__none">{t.app.loading}</p>
        ) : groups.length === 0 ? (
          <p class="tavle__none" data-testid="tavle-none">
            {t.tavle.none}
          </p>
        ) : (
          groups.map((g) => (
            <section key={g.severity} class={`tavle__group tavle__group--${g.severity}`} aria-labelledby={`tavle-${g.severity}`}>
              <h2 id={`tavle-${g.severity}`} class="tavle__group-title">
                {t.severity[g.severity]} <span class="tavle__group-count">{g.alerts.length}</span>
              </h2>
              <ul class="tavle__tiles">
                {g.alerts.map((a) => (
                  <Tile key={a.id} alert={a} now={now} />
                ))}
              </ul>
            </section>
          ))
        )}
      </main>
    </div>
  );
}

function Tile({ alert, now }: { alert: AlertView; now: number }) {
  const t = useT();
  const overdue = countdown(alert.followUpDueAt, now, t.units).overdue;
  // The room reads who has it by name (never "you": the board is logged in as whoever set it up).
  const who = alert.acknowledgedByName ?? alert.acknowledgedBy;
  return (
    <li class={`tile tile--${alert.severity}${overdue ? ' tile--overdue' : ''}`} data-alert-id={alert.id}>
      <span class="tile__title">{alertTitle(alert, t)}</span>
      <span class="tile__home">{homeLabel(alert.homeId, t)}</span>
      <span class="tile__age">
        {overdue ? <span aria-hidden="true">⚠ </span> : null}
        {formatElapsed(since(alert.raisedAt, now), t.units)}
      </span>
      <span class={alert.ack === 'acknowledged' ? 'tile__ack tile__ack--yes' : 'tile__ack'}>
        {alert.ack !== 'acknowledged' ? t.tavle.notAcknowledged : `✓ ${who === null ? t.tavle.acknowledged : t.alerts.acknowledgedBy(who)}`}
      </span>
    </li>
  );
}

/** A tablet on the wall should not go dark (Screen Wake Lock, where the browser has it). */
function useScreenAwake(): void {
  useEffect(() => {
    if (!('wakeLock' in navigator)) return;
    let lock: WakeLockSentinel | undefined;
    let done = false;
    const request = () => {
      if (document.visibilityState !== 'visible') return;
      navigator.wakeLock.request('screen').then(
        (l) => {
          if (done) void l.release();
          else lock = l;
        },
        () => undefined, // refused (battery saver, no permission): the board still works
      );
    };
    request();
    document.addEventListener('visibilitychange', request);
    return () => {
      done = true;
      document.removeEventListener('visibilitychange', request);
      void lock?.release();
    };
  }, []);
}
