// One alert: the facts, the actions, the events that raised it and the timeline of who did what. The feed
// keeps the alert itself live; the timeline is re-read whenever the stream reports a new transition for it
// (another nurse's acknowledgement shows up here too).

import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useApp } from '../app-context.js';
import { viewOf, type AlertView } from '../alert-state.js';
import { formatDateTime, formatElapsed, since } from '../format.js';
import { useFeed, useNow } from '../hooks.js';
import { useT } from '../i18n/context.js';
import { alertTitle, homeLabel, type Messages } from '../i18n/index.js';
import { failureText, useLoad, useTitle } from '../load.js';
import { useLocation } from '../router.js';
import type { Evidence, RuleId, TimelineEntry } from '../types.js';
import { AckState, FollowUp, SeverityBadge, personLabel } from './alert-card.js';
import { ResolveForm } from './resolve-form.js';

export function AlertDetailPage({ id }: { id: string }) {
  const t = useT();
  const { api, feed, user } = useApp();
  const snap = useFeed(feed);
  const now = useNow(1000);
  const { search } = useLocation();
  const [ackError, setAckError] = useState<string | undefined>(undefined);
  // `revision` changes when the stream reports a new transition for it: the timeline is read again (the
  // answer on screen stays until the new one is there).
  const revision = snap.state.revision.get(id);
  const loaded = useLoad(() => api.alertDetail(id), [api, id, revision]);
  const detail = loaded.value.state === 'ok' ? loaded.value.data : undefined;

  const live = snap.state.byId.get(id);
  const alert: AlertView | undefined =
    live !== undefined ? viewOf(snap.state, live) : detail !== undefined ? { ...detail.alert, pending: false } : undefined;
  useTitle(alert === undefined ? t.detail.facts : alertTitle(alert, t), t.app.name);

  return (
    <>
      <p class="back">
        <a href="/">← {t.detail.back}</a>
      </p>
      {alert === undefined ? (
        loaded.value.state === 'error' ? (
          <>
            <h1 tabIndex={-1}>{t.detail.facts}</h1>
            <p class="form-error" role="alert">
              {loaded.error instanceof ApiError && loaded.error.status === 404 ? t.detail.notFound : failureText(loaded.error, t)}
            </p>
          </>
        ) : (
          <>
            <h1 tabIndex={-1}>{t.detail.facts}</h1>
            <p class="loading" role="status">
              {t.detail.loading}
            </p>
          </>
        )
      ) : (
        <>
          <h1 tabIndex={-1} class="detail__title">
            {alertTitle(alert, t)}
          </h1>
          <div class="card__meta">
            <SeverityBadge severity={alert.severity} />
            <span class="card__home">{homeLabel(alert.homeId, t)}</span>
            <span class="card__kind">{t.kind[alert.kind]}</span>
          </div>
          <Facts alert={alert} now={now} me={user.id} t={t} />
          {alert.open && alert.ack === 'unacknowledged' ? (
            <div class="card__actions">
              <button
                type="button"
                class="button button--primary"
                onClick={() => {
                  setAckError(undefined);
                  feed.acknowledge(alert.id).catch((err: unknown) => setAckError(t.alerts.ackFailed(failureText(err, t))));
                }}
              >
                {t.alerts.acknowledge}
              </button>
            </div>
          ) : null}
          {ackError !== undefined ? (
            <p class="form-error" role="alert">
              {ackError}
            </p>
          ) : null}
          {alert.open ? (
            <ResolveForm alertId={alert.id} focusOnMount={search.get('resolve') === '1'} />
          ) : (
            <p class="notice">{t.detail.resolved}</p>
          )}
          <EvidenceList alert={alert} t={t} />
          <Timeline entries={detail?.timeline ?? []} me={user.id} t={t} />
        </>
      )}
    </>
  );
}

function Facts({ alert, now, me, t }: { alert: AlertView; now: number; me: string; t: Messages }) {
  return (
    <section class="panel" aria-labelledby="facts-title">
      <h2 id="facts-title">{t.detail.facts}</h2>
      <dl class="facts">
        <dt>{t.detail.raisedAt}</dt>
        <dd>
          <time dateTime={alert.raisedAt}>{formatDateTime(alert.raisedAt, t.locale)}</time> (
          {t.alerts.raisedAgo(formatElapsed(since(alert.raisedAt, now), t.units))})
        </dd>
        <dt>{t.detail.followUpDue}</dt>
        <dd>
          <time dateTime={alert.followUpDueAt}>{formatDateTime(alert.followUpDueAt, t.locale)}</time>
          {alert.open ? (
            <>
              {' '}
              <FollowUp dueAt={alert.followUpDueAt} now={now} />
            </>
          ) : null}
        </dd>
        <dt>{t.detail.ackDue}</dt>
        <dd>
          <time dateTime={alert.ackDueAt}>{formatDateTime(alert.ackDueAt, t.locale)}</time>
        </dd>
        <dt>{t.detail.team}</dt>
        <dd>{alert.teamId}</dd>
        <dt>{t.detail.state}</dt>
        <dd>
          <AckState alert={alert} me={me} />
          {alert.state === 'cleared' ? <span class="chip">{t.alerts.cleared}</span> : null}
          {alert.count > 1 ? <span class="chip">{t.alerts.repeated(alert.count)}</span> : null}
        </dd>
      </dl>
    </section>
  );
}

function EvidenceList({ alert, t }: { alert: AlertView; t: Messages }) {
  const items: readonly Evidence[] = alert.evidence;
  return (
    <section class="panel" aria-labelledby="evidence-title">
      <h2 id="evidence-title">{t.detail.evidence}</h2>
      {items.length === 0 ? (
        <p>{t.detail.noEvidence}</p>
      ) : (
        <ul class="evidence" data-testid="evidence">
          {items.map((e, i) => (
            <li key={e.eventId ?? i}>
              {e.observedAt !== undefined ? <time dateTime={e.observedAt}>{formatDateTime(e.observedAt, t.locale)}</time> : null}
              {e.note !== undefined ? <span class="evidence__note">{e.note}</span> : null}
              {e.deviceId !== undefined ? (
                <span class="evidence__device">
                  {t.detail.device}: {e.deviceId}
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {alert.evidenceDropped > 0 ? <p class="hint">{t.detail.evidenceDropped(alert.evidenceDropped)}</p> : null}
    </section>
  );
}

function actorLabel({ actor, actorName }: TimelineEntry, me: string, t: Messages): string {
  if (actor === 'system') return t.detail.actorSystem;
  if (actor.startsWith('rule:')) {
    const rule = actor.slice(5);
    return t.detail.actorRule(Object.prototype.hasOwnProperty.call(t.rule, rule) ? t.rule[rule as RuleId] : rule);
  }
  return personLabel(actor, actorName, me, t);
}

function Timeline({ entries, me, t }: { entries: readonly TimelineEntry[]; me: string; t: Messages }) {
  return (
    <section class="panel" aria-labelledby="timeline-title">
      <h2 id="timeline-title">{t.detail.timeline}</h2>
      {entries.length === 0 ? (
        <p>{t.detail.noTimeline}</p>
      ) : (
        <ol class="timeline" data-testid="timeline">
          {entries.map((e, i) => (
            <li key={`${e.at}-${i}`}>
              <time dateTime={e.at}>{formatDateTime(e.at, t.locale)}</time> <strong>{t.transition[e.type]}</strong> – {actorLabel(e, me, t)}
              {e.detail.outcome !== undefined ? <span> · {t.outcome[e.detail.outcome]}</span> : null}
              {e.detail.level !== undefined ? <span> · {t.detail.level(e.detail.level)}</span> : null}
              {e.detail.late === true ? <span class="late"> · {t.detail.late}</span> : null}
              {e.detail.note !== undefined ? <q class="timeline__note">{e.detail.note}</q> : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
