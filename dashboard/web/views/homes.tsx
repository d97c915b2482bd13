// Status per home (issue 6 item 3): open alerts by severity, devices online of total, low battery, silent,
// the last message. Each links to the home's page.

import { useT } from '../i18n/context.js';
import { useLoad, useTitle } from '../load.js';
import type { HomeSummary } from '../resource-types.js';
import { SEVERITY_ORDER } from '../types.js';
import { LoadState, OpenAlerts, when } from './status.js';

export function HomesPage() {
  const t = useT();
  useTitle(t.homes.title, t.app.name);
  const { value, error } = useLoad((r) => r.homes(), []);
  const homes = value.state === 'ok' ? [...value.data].sort(byUrgency) : [];
  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>{t.homes.title}</h1>
        {value.state === 'ok' ? <p class="page-head__count">{t.homes.count(homes.length)}</p> : null}
      </div>
      <LoadState value={value} error={error} loading={t.homes.loading} />
      {value.state === 'ok' && homes.length === 0 ? <p class="empty">{t.homes.empty}</p> : null}
      {homes.length > 0 ? (
        <ul class="home-tiles" data-testid="home-list">
          {homes.map((h) => (
            <HomeTile key={h.id} home={h} />
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** Most open alerts (by severity) first, then devices needing attention, then by id. */
function byUrgency(a: HomeSummary, b: HomeSummary): number {
  for (const s of SEVERITY_ORDER) if (a.openAlerts[s] !== b.openAlerts[s]) return b.openAlerts[s] - a.openAlerts[s];
  const trouble = (h: HomeSummary) => h.devices.offline + h.devices.lowBattery + h.devices.silent;
  return trouble(b) - trouble(a) || a.id.localeCompare(b.id);
}

function HomeTile({ home }: { home: HomeSummary }) {
  const t = useT();
  const d = home.devices;
  const worst = SEVERITY_ORDER.find((s) => home.openAlerts[s] > 0);
  return (
    <li class={`home-tile${worst === undefined ? '' : ` home-tile--${worst}`}`} data-home-id={home.id}>
      <h2 class="home-tile__title">
        <a href={`/homes/${encodeURIComponent(home.id)}`}>{t.homes.home(home.id)}</a>
      </h2>
      <p class="home-tile__team">{t.homes.team(home.teamId)}</p>
      <p class="home-tile__alerts">
        <OpenAlerts counts={home.openAlerts} />
      </p>
      <ul class="home-tile__facts">
        <li>{t.homes.devicesOnline(d.online, d.total)}</li>
        {d.offline > 0 ? <li class="state--bad">✕ {t.homes.offline(d.offline)}</li> : null}
        {d.lowBattery > 0 ? <li class="state--warn">{t.homes.lowBattery(d.lowBattery)}</li> : null}
        {d.silent > 0 ? <li class="state--bad">⚠ {t.homes.silent(d.silent)}</li> : null}
        <li>
          {t.homes.lastEvent}: {home.lastEventAt === null ? t.homes.never : when(home.lastEventAt, t)}
        </li>
      </ul>
    </li>
  );
}
