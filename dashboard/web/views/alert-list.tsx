// The nurse's live list: open alerts of her teams, most urgent first, updated by the stream.

import { useEffect, useId, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useApp } from '../app-context.js';
import { visibleAlerts } from '../alert-state.js';
import { useFeed, useNow } from '../hooks.js';
import { useT } from '../i18n/context.js';
import { errorText } from '../i18n/index.js';
import { SEVERITY_ORDER, type Severity } from '../types.js';
import { AlertCard } from './alert-card.js';

export function AlertListPage() {
  const t = useT();
  const { user, feed } = useApp();
  const snap = useFeed(feed);
  const now = useNow(1000);
  const [team, setTeam] = useState<string | undefined>(undefined);
  const [minSeverity, setMinSeverity] = useState<Severity | undefined>(undefined);
  const [ackError, setAckError] = useState<string | undefined>(undefined);
  const teamId = useId();
  const severityId = useId();

  const alerts = visibleAlerts(snap.state, { team, minSeverity });

  useEffect(() => {
    document.title = `${alerts.length > 0 ? `(${alerts.length}) ` : ''}${t.alerts.title} – ${t.app.name}`;
  }, [alerts.length, t]);

  function acknowledge(id: string) {
    setAckError(undefined);
    feed.acknowledge(id).catch((err: unknown) => {
      setAckError(t.alerts.ackFailed(errorText(err instanceof ApiError ? err.code : 'TRY_ERR_NETWORK', t)));
    });
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
          <div class="field field--inline">
            <label for={teamId}>{t.alerts.team}</label>
            <select
              id={teamId}
              value={team ?? ''}
              onChange={(e) => setTeam(e.currentTarget.value === '' ? undefined : e.currentTarget.value)}
            >
              <option value="">{t.alerts.allTeams}</option>
              {user.teams.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </div>
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
