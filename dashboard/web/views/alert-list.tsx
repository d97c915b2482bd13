// The nurse's live list: open alerts of her teams, most urgent first, updated by the stream.

import { useId, useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { visibleAlerts } from '../alert-state.js';
import { useFeed, useNow } from '../hooks.js';
import { useT } from '../i18n/context.js';
import { failureText, useTitle } from '../load.js';
import { SEVERITY_ORDER, type Severity } from '../types.js';
import { AlertCard } from './alert-card.js';
import { TeamSelect } from './forms.js';

export function AlertListPage() {
  const t = useT();
  const { user, feed } = useApp();
  const snap = useFeed(feed);
  const now = useNow(1000);
  const [team, setTeam] = useState<string | undefined>(undefined);
  const [minSeverity, setMinSeverity] = useState<Severity | undefined>(undefined);
  const [ackError, setAckError] = useState<string | undefined>(undefined);
  const severityId = useId();

  const alerts = visibleAlerts(snap.state, { team, minSeverity });
  // The count in the tab's title: a nurse sees it from another tab.
  useTitle(`${alerts.length > 0 ? `(${alerts.length}) ` : ''}${t.alerts.title}`, t.app.name);

  function acknowledge(id: string) {
    setAckError(undefined);
    feed.acknowledge(id).catch((err: unknown) => setAckError(t.alerts.ackFailed(failureText(err, t))));
  }

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>{t.alerts.title}</h1>
        {snap.loaded ? (
          <p class="page-head__count" data-testid="alert-count">
            {t.alerts.count(alerts.length)}
          </p>
        ) : null}
      </div>
      <div class="filters" role="group" aria-label={t.alerts.filters}>
        {user.teams.length > 1 ? (
          <TeamSelect label={t.alerts.team} allLabel={t.alerts.allTeams} teams={user.teams} value={team} onChange={setTeam} />
        ) : null}
        <div class="field field--inline">
          <label for={severityId}>{t.alerts.minSeverity}</label>
          <select
            id={severityId}
            value={minSeverity ?? ''}
            onChange={(e) => {
              const v = e.currentTarget.value;
              setMinSeverity(SEVERITY_ORDER.find((s) => s === v));
            }}
          >
            <option value="">{t.alerts.allSeverities}</option>
            {SEVERITY_ORDER.slice(0, -1).map((s) => (
              <option key={s} value={s}>
                {t.alerts.atLeast(t.severity[s])}
              </option>
            ))}
          </select>
        </div>
      </div>
      {ackError !== undefined ? (
        <p class="form-error" role="alert" data-testid="ack-error">
          {ackError}
        </p>
      ) : null}
      {!snap.loaded ? (
        <p class="loading" role="status">
          {t.alerts.loading}
        </p>
      ) : alerts.length === 0 ? (
        <p class="empty" data-testid="alerts-empty">
          {t.alerts.empty}
        </p>
      ) : (
        <ul class="alert-list" data-testid="alert-list">
          {alerts.map((a) => (
            <AlertCard key={a.id} alert={a} now={now} me={user.id} onAcknowledge={acknowledge} />
          ))}
        </ul>
      )}
    </>
  );
}
