// A home's page (issue 6 item 3): its state, its devices with their health, charts of its readings, the recent
// events and the dose log of the last 7 days. Viewing it is audited by the gateway (home.view).

import { useT } from '../i18n/context.js';
import { eventText } from '../i18n/index.js';
import { useLoad, useTitle } from '../load.js';
import type { DoseLogEntry, HomeDetail, HomeEvent } from '../resource-types.js';
import { formatClock, formatDateTime } from '../format.js';
import { HomeCharts } from './home-charts.js';
import { DeviceSummary, LoadState, OpenAlerts } from './status.js';

export function HomePage({ id }: { id: string }) {
  const t = useT();
  useTitle(t.homes.home(id), t.app.name);
  const { value, error } = useLoad((r) => r.home(id), [id]);
  return (
    <>
      <p class="back">
        <a href="/homes">← {t.home.back}</a>
      </p>
      <h1 tabIndex={-1}>{t.homes.home(id)}</h1>
      <LoadState value={value} error={error} loading={t.home.loading} />
      {value.state === 'ok' ? <HomeBody detail={value.data} /> : null}
    </>
  );
}

function HomeBody({ detail }: { detail: HomeDetail }) {
  const t = useT();
  const { home } = detail;
  return (
    <>
      <p class="home-state">
        <span>{t.homes.team(home.teamId)}</span>
        <OpenAlerts counts={home.openAlerts} />
        <span>{t.homes.devicesOnline(home.devices.online, home.devices.total)}</span>
      </p>
      <section class="panel" aria-labelledby="devices-h">
        <h2 id="devices-h">{t.home.devices}</h2>
        {detail.devices.length === 0 ? (
          <p class="empty">{t.home.noDevices}</p>
        ) : (
          <ul class="rows" data-testid="home-devices">
            {detail.devices.map((d) => (
              <li key={d.id} class="row" data-device-id={d.id}>
                <DeviceSummary device={d} />
              </li>
            ))}
          </ul>
        )}
      </section>
      <HomeCharts homeId={home.id} kinds={detail.devices.map((d) => d.kind)} />
      <DoseLog doses={detail.doseLog.doses} />
      <Events events={detail.recentEvents} unavailable={detail.sources.influx !== 'ok'} />
    </>
  );
}

const DOSE_MARK = { taken: '✓', missed: '✕', unknown: '?', pending: '…' } as const;

function DoseLog({ doses }: { doses: readonly DoseLogEntry[] }) {
  const t = useT();
  const days = new Map<string, DoseLogEntry[]>();
  // Newest day first; within a day in time order. The label is the home's local date and time.
  for (const d of [...doses].sort((a, b) => b.dose.localeCompare(a.dose))) {
    const day = d.dose.slice(0, 10);
    days.set(day, [...(days.get(day) ?? []), d]);
  }
  return (
    <section class="panel" aria-labelledby="doses-h" data-testid="dose-log">
      <h2 id="doses-h">{t.home.doseLog}</h2>
      {doses.length === 0 ? <p class="empty">{t.home.noDoses}</p> : null}
      {[...days].map(([day, list]) => (
        <div key={day} class="dose-day">
          <h3 class="dose-day__date">
            {new Date(`${day}T12:00:00Z`).toLocaleDateString(t.locale, { weekday: 'short', day: 'numeric', month: 'short' })}
          </h3>
          <ul class="doses">
            {[...list].reverse().map((d) => (
              <li key={d.dose} class={`dose dose--${d.status}`} data-dose={d.dose} data-status={d.status}>
                <span class="dose__time">{d.dose.slice(11, 16)}</span>
                <span class="dose__status">
                  <span aria-hidden="true">{DOSE_MARK[d.status]} </span>
                  {t.home.doseStatus[d.status]}
                </span>
                {d.takenAt !== null ? (
                  <span class="dose__note">
                    {d.basis === 'alert_cleared' ? t.home.takenLate : t.home.takenAt(formatClock(Date.parse(d.takenAt), t.locale))}
                  </span>
                ) : null}
                {d.alertId !== null ? (
                  <a class="dose__note" href={`/alerts/${encodeURIComponent(d.alertId)}`}>
                    {t.home.doseAlert}
                  </a>
                ) : null}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}

function Events({ events, unavailable }: { events: readonly HomeEvent[]; unavailable: boolean }) {
  const t = useT();
  return (
    <section class="panel" aria-labelledby="events-h" data-testid="home-events">
      <h2 id="events-h">{t.home.events}</h2>
      {unavailable ? <p class="notice">{t.home.eventsUnavailable}</p> : events.length === 0 ? <p class="empty">{t.home.noEvents}</p> : null}
      {events.length > 0 ? (
        <ul class="events">
          {events.map((e, i) => (
            <li key={`${e.at}-${e.deviceId}-${i}`}>
              <time dateTime={e.at}>{formatDateTime(e.at, t.locale)}</time> <strong>{eventText(e, t)}</strong>
              {e.slot !== null ? ` ${e.slot}` : ''} <span class="events__device">{e.deviceId}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
