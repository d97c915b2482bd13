// One open alert in the nurse's list: what, where, how long ago, the follow-up deadline, who has taken it,
// and the two actions (acknowledge in one tap; details and resolve).

import { pathOf } from '../paths.js';
import type { AlertView } from '../alert-state.js';
import { countdown, formatElapsed, since } from '../format.js';
import { useT } from '../i18n/context.js';
import { alertTitle, homeLabel, type Messages } from '../i18n/index.js';

export interface AlertCardProps {
  readonly alert: AlertView;
  readonly now: number;
  readonly me: string;
  readonly onAcknowledge: (id: string) => void;
}

/**
 * Who did it, as a colleague reads it: "you" for oneself, else the name the gateway gave (a user's display name;
 * the id itself for anyone it does not know as a user).
 */
export function personLabel(id: string | null, name: string | null | undefined, me: string, t: Messages): string {
  if (id === null) return '';
  return id === me ? t.alerts.you : (name ?? id);
}

export function SeverityBadge({ severity }: { severity: AlertView['severity'] }) {
  const t = useT();
  return <span class={`badge badge--${severity}`}>{t.severity[severity]}</span>;
}

export function FollowUp({ dueAt, now }: { dueAt: string; now: number }) {
  const t = useT();
  const c = countdown(dueAt, now, t.units);
  const cls = c.overdue ? 'due due--overdue' : c.soon ? 'due due--soon' : 'due';
  return (
    <time class={cls} dateTime={dueAt} data-testid="follow-up">
      {c.overdue ? (
        <>
          <span aria-hidden="true">⚠ </span>
          {t.alerts.overdueBy(c.text)}
        </>
      ) : (
        t.alerts.dueIn(c.text)
      )}
    </time>
  );
}

export function AckState({ alert, me }: { alert: AlertView; me: string }) {
  const t = useT();
  if (alert.ack !== 'acknowledged') {
    return <p class="ack ack--no">{t.alerts.unacknowledged}</p>;
  }
  return (
    <p class="ack ack--yes" data-testid="ack-state">
      <span aria-hidden="true">✓ </span>
      {t.alerts.acknowledgedBy(personLabel(alert.acknowledgedBy, alert.acknowledgedByName, me, t))}
      {alert.pending ? <span class="ack__pending"> ({t.alerts.sending})</span> : null}
    </p>
  );
}

export function AlertCard({ alert, now, me, onAcknowledge }: AlertCardProps) {
  const t = useT();
  const title = alertTitle(alert, t);
  const home = homeLabel(alert.homeId, t);
  const headingId = `alert-${alert.id}-title`;
  const detailPath = pathOf({ name: 'alert', id: alert.id });
  const overdue = countdown(alert.followUpDueAt, now, t.units).overdue;

  return (
    <li class={`card card--${alert.severity}${overdue ? ' card--overdue' : ''}`} data-alert-id={alert.id}>
      <article aria-labelledby={headingId}>
        <div class="card__meta">
          <SeverityBadge severity={alert.severity} />
          <span class="card__home">{home}</span>
          <span class="card__kind">{t.kind[alert.kind]}</span>
          {alert.state === 'cleared' ? <span class="chip">{t.alerts.cleared}</span> : null}
          {alert.count > 1 ? <span class="chip">{t.alerts.repeated(alert.count)}</span> : null}
        </div>
        <h2 class="card__title" id={headingId}>
          <a href={detailPath}>{title}</a>
        </h2>
        <dl class="card__times">
          <div>
            <dt>{t.alerts.raisedLabel}</dt>
            <dd>
              <time dateTime={alert.raisedAt}>{t.alerts.raisedAgo(formatElapsed(since(alert.raisedAt, now), t.units))}</time>
            </dd>
          </div>
          <div>
            <dt>{t.alerts.followUpLabel}</dt>
            <dd>
              <FollowUp dueAt={alert.followUpDueAt} now={now} />
            </dd>
          </div>
        </dl>
        <AckState alert={alert} me={me} />
        <div class="card__actions">
          {alert.ack === 'unacknowledged' ? (
            <button
              type="button"
              class="button button--primary"
              aria-label={t.alerts.acknowledgeLabel(title, home)}
              onClick={() => onAcknowledge(alert.id)}
            >
              {t.alerts.acknowledge}
            </button>
          ) : null}
          <a class="button button--secondary" href={`${detailPath}?resolve=1`} aria-label={t.alerts.openLabel(title, home)}>
            {t.alerts.open}
          </a>
        </div>
      </article>
    </li>
  );
}
