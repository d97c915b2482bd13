// Dead letters for technicians and admins (issue 6 item 3): the list with filters, newest first a page at a time
// (older pages on request), a message's payload (text or base64) and the adapter's findings, replay; and the
// adapter catalogue.

import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { formatDateTime } from '../format.js';
import { useT } from '../i18n/context.js';
import type { Messages } from '../i18n/index.js';
import { useAction, useLoad, useResources, useTitle } from '../load.js';
import { DEAD_LETTER_REASONS, type DeadLetter, type DeadLetterPage, type DeadLetterReason } from '../resource-types.js';
import type { DeadLetterFilter } from '../resources.js';
import { ActionOutcome, LoadState } from './status.js';

/** Where the focus goes after the list changed under it: a row, or the line saying there is nothing older. */
type FocusTarget = { readonly row: number } | 'end' | undefined;

export function DeadLettersPage() {
  const t = useT();
  useTitle(t.deadLetters.title, t.app.name);
  const ids = { reason: useId(), device: useId(), all: useId(), end: useId() };
  const [reason, setReason] = useState<DeadLetterReason | undefined>(undefined);
  const [device, setDevice] = useState('');
  const [all, setAll] = useState(false);
  const [query, setQuery] = useState<DeadLetterFilter>({ reason, device: undefined, all });
  const list = useLoad((r) => r.deadLetters(query), [query]);
  const [open, setOpen] = useState<number | undefined>(undefined);
  const [loadingOlder, setLoadingOlder] = useState(false);
  /** Older pages were asked for in this list: say so when there are no more. */
  const [paged, setPaged] = useState(false);
  const [focus, setFocus] = useState<FocusTarget>(undefined);
  const action = useAction(t.devices.failed);
  const r = useResources();
  // The query the list on screen answers: an older page or a replay for an earlier one is not mixed into it.
  const shown = useRef(query);
  shown.current = query;

  useEffect(() => {
    if (focus === undefined) return;
    const el = focus === 'end' ? document.getElementById(ids.end) : document.querySelector(`[data-deadletter-id="${focus.row}"]`);
    if (el instanceof HTMLElement) el.focus();
  }, [focus]);

  async function older(before: number) {
    if (loadingOlder) return;
    setLoadingOlder(true);
    const asked = query;
    await action.run(async () => {
      const more = await r.deadLetters(asked, before);
      if (shown.current !== asked) return undefined;
      list.update((d) => ({ deadLetters: [...d.deadLetters, ...more.deadLetters], next: more.next }));
      setPaged(true);
      const first = more.deadLetters[0];
      setFocus(first !== undefined ? { row: first.id } : more.next === null ? 'end' : undefined);
      return t.deadLetters.loadedOlder(more.deadLetters.length);
    });
    setLoadingOlder(false);
  }

  function replay(letter: DeadLetter, after: DeadLetter | undefined) {
    const asked = query;
    void action.run(async () => {
      const replayed = await r.replay(letter.id);
      if (shown.current !== asked) return t.deadLetters.replayDone(letter.id);
      // Replayed ones leave the list unless it shows them too; the focus goes on to the next row.
      list.update((d) => ({
        ...d,
        deadLetters:
          asked.all === true
            ? d.deadLetters.map((x) => (x.id === letter.id ? replayed : x))
            : d.deadLetters.filter((x) => x.id !== letter.id),
      }));
      if (asked.all !== true && after !== undefined) setFocus({ row: after.id });
      return t.deadLetters.replayDone(letter.id);
    });
  }

  const page: DeadLetterPage | undefined = list.value.state === 'ok' ? list.value.data : undefined;
  const letters = page?.deadLetters ?? [];
  const next = page?.next ?? null;
  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>{t.deadLetters.title}</h1>
        {page !== undefined ? <p class="page-head__count">{t.deadLetters.count(letters.length, next !== null)}</p> : null}
      </div>
      <p class="hint">{t.deadLetters.intro}</p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const id = device.trim();
          setQuery({ reason, device: id === '' ? undefined : id, all });
          setPaged(false);
        }}
      >
        <div class="field field--inline">
          <label for={ids.reason}>{t.deadLetters.reason}</label>
          <select
            id={ids.reason}
            value={reason ?? ''}
            onChange={(e) => setReason(DEAD_LETTER_REASONS.find((x) => x === e.currentTarget.value))}
          >
            <option value="">{t.deadLetters.allReasons}</option>
            {DEAD_LETTER_REASONS.map((x) => (
              <option key={x} value={x}>
                {t.deadLetters.reasons[x]}
              </option>
            ))}
          </select>
        </div>
        <div class="field field--inline">
          <label for={ids.device}>{t.deadLetters.device}</label>
          <input id={ids.device} value={device} autoComplete="off" onInput={(e) => setDevice(e.currentTarget.value)} />
        </div>
        <label class="choice" for={ids.all}>
          <input id={ids.all} type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />
          {t.deadLetters.includeReplayed}
        </label>
        <button type="submit" class="button button--secondary">
          {t.deadLetters.show}
        </button>
      </form>
      <ActionOutcome message={action.message} testId="deadletter-message" />
      <LoadState value={list.value} error={list.error} loading={t.deadLetters.loading} />
      {page !== undefined && letters.length === 0 ? (
        <p class="empty">{next === null ? t.deadLetters.empty : t.deadLetters.noneYet}</p>
      ) : null}
      {letters.length > 0 ? (
        <ul class="rows" data-testid="deadletter-list">
          {letters.map((d, i) => (
            <DeadLetterRow
              key={d.id}
              letter={d}
              open={open === d.id}
              onToggle={() => setOpen(open === d.id ? undefined : d.id)}
              onReplay={() => replay(d, letters[i + 1] ?? letters[i - 1])}
            />
          ))}
        </ul>
      ) : null}
      {next !== null ? (
        <p class="more">
          <button
            type="button"
            class="button button--secondary"
            aria-disabled={loadingOlder}
            data-testid="deadletter-older"
            onClick={() => void older(next)}
          >
            {loadingOlder ? t.deadLetters.loadingOlder : t.deadLetters.older}
          </button>
        </p>
      ) : paged ? (
        <p class="hint" id={ids.end} tabIndex={-1} data-testid="deadletter-end">
          {t.deadLetters.noOlder}
        </p>
      ) : null}
      <Adapters />
    </>
  );
}

function reasonText(reason: string, t: Messages): string {
  const known = DEAD_LETTER_REASONS.find((x) => x === reason);
  return known === undefined ? reason : t.deadLetters.reasons[known];
}

function DeadLetterRow(props: { letter: DeadLetter; open: boolean; onToggle: () => void; onReplay: () => void }) {
  const t = useT();
  const d = props.letter;
  const panelId = useId();
  return (
    // Focusable by script only: where the focus goes after older rows arrive or a replayed one leaves.
    <li class="row" data-deadletter-id={d.id} tabIndex={-1}>
      <h2 class="row__head">
        <strong>#{d.id}</strong> <span class="flag flag--bad">{reasonText(d.reason, t)}</span> <span>{d.deviceId}</span>
        {d.homeId !== null ? <span class="chip">{d.homeId}</span> : null}
      </h2>
      <p class="row__meta">
        {t.deadLetters.receivedAt} {formatDateTime(d.receivedAt, t.locale)} · {t.deadLetters.size(d.payloadBytes)}
        {d.adapterId !== null ? ` · ${d.adapterId}${d.adapterVersion === null ? '' : ` v${d.adapterVersion}`}` : ''}
        {d.replayedAt !== null ? ` · ${t.deadLetters.replayed(formatDateTime(d.replayedAt, t.locale))}` : ''}
      </p>
      <div class="row__actions">
        <button
          type="button"
          class="button button--secondary"
          aria-expanded={props.open}
          aria-controls={panelId}
          aria-label={props.open ? t.deadLetters.hide : t.deadLetters.openLabel(d.id)}
          onClick={props.onToggle}
        >
          {props.open ? t.deadLetters.hide : t.deadLetters.open}
        </button>
        {d.replayedAt === null && !d.truncated ? (
          <button type="button" class="button button--primary" aria-label={t.deadLetters.replayLabel(d.id)} onClick={props.onReplay}>
            {t.deadLetters.replay}
          </button>
        ) : null}
        {d.truncated ? <span class="hint">{t.deadLetters.truncated}</span> : null}
      </div>
      <div id={panelId}>{props.open ? <DeadLetterBody id={d.id} /> : null}</div>
    </li>
  );
}

function DeadLetterBody({ id }: { id: number }) {
  const t = useT();
  const headingId = useId();
  const { value, error } = useLoad((r) => r.deadLetter(id), [id]);
  if (value.state !== 'ok') return <LoadState value={value} error={error} loading={t.app.loading} />;
  const d = value.data;
  return (
    <div class="deadletter" data-testid="deadletter-detail">
      <h3 id={headingId}>{d.payload.encoding === 'utf8' ? t.deadLetters.payload : t.deadLetters.payloadBase64}</h3>
      {/* Focusable so that a keyboard can scroll a long payload; a region named by its heading. */}
      <pre class="payload" tabIndex={0} role="region" aria-labelledby={headingId}>
        {d.payload.data}
      </pre>
      {d.payload.shownBytes < d.payloadBytes ? <p class="hint">{t.deadLetters.shown(d.payload.shownBytes, d.payloadBytes)}</p> : null}
      <h3>{t.deadLetters.issues}</h3>
      {d.issues.length === 0 ? (
        <p class="hint">{t.deadLetters.noIssues}</p>
      ) : (
        <ul class="issues">
          {d.issues.map((i, n) => (
            <li key={n}>
              <code>{i.path.join('.') || '(root)'}</code>: {i.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Adapters() {
  const t = useT();
  const { value, error } = useLoad((r) => r.adapters(), []);
  return (
    <section class="panel" aria-labelledby="adapters-h" data-testid="adapters">
      <h2 id="adapters-h">{t.deadLetters.adapters}</h2>
      <LoadState value={value} error={error} loading={t.app.loading} />
      {value.state === 'ok' ? (
        <ul class="adapters">
          {value.data.map((a) => (
            <li key={a.id}>
              <strong>{a.title}</strong> <code>{a.id}</code> {t.deadLetters.adapterVersion(a.version)}
              {a.deviceClasses.length > 0 ? ` · ${a.deviceClasses.join(', ')}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
