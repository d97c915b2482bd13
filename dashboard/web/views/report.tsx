// The follow-up report for team leads and admins (issue 6 item 3): alerts per team over a period, acknowledged
// and resolved on time, late, never or still pending; late and missing follow-ups highlighted (⚠ and words, not
// colour alone); the same report as CSV from the API (format=csv).

import { useId, useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { useT } from '../i18n/context.js';
import { useLoad, useTitle } from '../load.js';
import type { TeamFollowUp } from '../resource-types.js';
import { reportCsvUrl, type ReportQuery } from '../resources.js';
import { TeamSelect } from './forms.js';
import { LoadState } from './status.js';

/** YYYY-MM-DD of a local day `daysAgo` before today (the report reads dates in Europe/Oslo). */
function localDate(daysAgo: number): string {
  const d = new Date(Date.now() - daysAgo * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function ReportPage() {
  const t = useT();
  const { user } = useApp();
  useTitle(t.report.title, t.app.name);
  const ids = { from: useId(), to: useId(), caption: useId() };
  const [form, setForm] = useState<ReportQuery>({ from: localDate(7), to: localDate(0), team: undefined });
  const [query, setQuery] = useState<ReportQuery>(form);
  const [invalid, setInvalid] = useState(false);
  const { value, error } = useLoad((r) => r.report(query), [query.from, query.to, query.team]);

  return (
    <>
      <h1 tabIndex={-1}>{t.report.title}</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const bad = form.from > form.to;
          setInvalid(bad);
          if (!bad) setQuery(form);
        }}
      >
        <div class="field field--inline">
          <label for={ids.from}>{t.report.from}</label>
          <input id={ids.from} type="date" required value={form.from} onInput={(e) => setForm({ ...form, from: e.currentTarget.value })} />
        </div>
        <div class="field field--inline">
          <label for={ids.to}>{t.report.to}</label>
          <input id={ids.to} type="date" required value={form.to} onInput={(e) => setForm({ ...form, to: e.currentTarget.value })} />
        </div>
        {user.teams.length > 1 || user.role === 'admin' ? (
          <TeamSelect
            label={t.report.team}
            allLabel={t.report.allTeams}
            teams={user.teams}
            value={form.team}
            onChange={(team) => setForm({ ...form, team })}
          />
        ) : null}
        <button type="submit" class="button button--secondary">
          {t.report.show}
        </button>
        <a class="button button--primary" href={reportCsvUrl(query)} download data-testid="report-csv">
          {t.report.csv}
        </a>
      </form>
      {invalid ? (
        <p class="form-error" role="alert">
          {t.report.badRange}
        </p>
      ) : null}
      <LoadState value={value} error={error} loading={t.report.loading} />
      {value.state === 'ok' ? (
        value.data.teams.length === 0 ? (
          <p class="empty">{t.report.empty}</p>
        ) : (
          // Scrolls sideways on a phone: focusable so a keyboard can scroll it, a region named by the caption.
          <div class="table-wrap" tabIndex={0} role="region" aria-labelledby={ids.caption}>
            <table class="report" data-testid="report-table">
              <caption id={ids.caption}>{t.report.caption(query.from, query.to)}</caption>
              <thead>
                <tr>
                  <th scope="col">{t.report.teamCol}</th>
                  <th scope="col">{t.report.count}</th>
                  <th scope="col">{t.report.acknowledged}</th>
                  <th scope="col">{t.report.resolved}</th>
                </tr>
              </thead>
              <tbody>
                {value.data.teams.map((row) => (
                  <ReportRow key={row.teamId} row={row} />
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
      <p class="hint">{t.report.legend}</p>
    </>
  );
}

function Counts({ onTime, late, never, pending }: { onTime: number; late: number; never: number; pending: number }) {
  const t = useT();
  return (
    <ul class="counts">
      <li>
        {onTime} {t.report.onTime}
      </li>
      <li class={late > 0 ? 'bad' : undefined}>
        {late > 0 ? '⚠ ' : ''}
        {late} {t.report.late}
      </li>
      <li class={never > 0 ? 'bad' : undefined}>
        {never > 0 ? '⚠ ' : ''}
        {never} {t.report.never}
      </li>
      <li>
        {pending} {t.report.pending}
      </li>
    </ul>
  );
}

function ReportRow({ row }: { row: TeamFollowUp }) {
  const t = useT();
  const attention = row.acknowledgedLate + row.acknowledgedNever + row.resolvedLate + row.resolvedNever > 0;
  return (
    <tr class={attention ? 'report__row--attention' : undefined} data-team={row.teamId}>
      <th scope="row">
        {row.teamId}
        {attention ? <span class="sr-only">, {t.report.attention}</span> : null}
      </th>
      <td>{row.count}</td>
      <td>
        <Counts
          onTime={row.acknowledgedOnTime}
          late={row.acknowledgedLate}
          never={row.acknowledgedNever}
          pending={row.acknowledgePending}
        />
      </td>
      <td>
        <Counts onTime={row.resolvedOnTime} late={row.resolvedLate} never={row.resolvedNever} pending={row.resolvePending} />
      </td>
    </tr>
  );
}
