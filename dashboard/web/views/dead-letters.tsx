// Dead letters for technicians and admins (issue 6 item 3): the list with filters, a message's payload (text or
// base64) and the adapter's findings, replay; and the adapter catalogue.

import { useId, useState } from 'preact/hooks';
import { formatDateTime } from '../format.js';
import { useT } from '../i18n/context.js';
import { failureText, useLoad, useResources, useTitle } from '../load.js';
import { DEAD_LETTER_REASONS, type DeadLetter, type DeadLetterReason } from '../resource-types.js';
import { LoadState } from './status.js';

export function DeadLettersPage() {
  const t = useT();
  useTitle(t.deadLetters.title, t.app.name);
  const ids = { reason: useId(), device: useId(), all: useId() };
  const [reason, setReason] = useState<DeadLetterReason | undefined>(undefined);
  const [device, setDevice] = useState('');
  const [all, setAll] = useState(false);
  const [query, setQuery] = useState({ reason, device, all });
  const { value, error, reload } = useLoad((r) => r.deadLetters({ ...query, device: query.device.trim() }), [query]);
  const [open, setOpen] = useState<number | undefined>(undefined);
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>(undefined);
  const r = useResources();

  async function replay(id: number) {
    setMessage(undefined);
    try {
      await r.replay(id);
      setMessage({ text: t.deadLetters.replayDone(id), error: false });
      reload();
    } catch (err) {
      setMessage({ text: t.devices.failed(failureText(err, t)), error: true });
    }
  }

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>{t.deadLetters.title}</h1>
        {value.state === 'ok' ? <p class="page-head__count">{t.deadLetters.count(value.data.length)}</p> : null}
      </div>
      <p class="hint">{t.deadLetters.intro}</p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ reason, device, all });
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
      <div role="status">
        {message !== undefined ? (
          <p class={message.error ? 'form-error' : 'notice notice--ok'} data-testid="deadletter-message">
            {message.text}
          </p>
        ) : null}
      </div>
      <LoadState value={value} error={error} loading={t.deadLetters.loading} />
      {value.state === 'ok' && value.data.length === 0 ? <p class="empty">{t.deadLetters.empty}</p> : null}
      {value.state === 'ok' && value.data.length > 0 ? (
        <ul class="rows" data-testid="deadletter-list">
          {value.data.map((d) => (
            <DeadLetterRow
              key={d.id}
              letter={d}
              open={open === d.id}
              onToggle={() => setOpen(open === d.id ? undefined : d.id)}
              onReplay={() => void replay(d.id)}
            />
          ))}
        </ul>
      ) : null}
      <Adapters />
    </>
  );
}

function reasonText(reason: string, t: ReturnType<typeof useT>): string {
  const known = DEAD_LETTER_REASONS.find((x) => x === reason);
  return known === undefined ? reason : t.deadLetters.reasons[known];
}

function DeadLetterRow(props: { letter: DeadLetter; open: boolean; onToggle: () => void; onReplay: () => void }) {
  const t = useT();
  const d = props.letter;
  const panelId = useId();
  return (
    <li class="row" data-deadletter-id={d.id}>
      <div class="row__head">
        <strong>#{d.id}</strong> <span class="flag flag--bad">{reasonText(d.reason, t)}</span> <span>{d.deviceId}</span>
        {d.homeId !== null ? <span class="chip">{d.homeId}</span> : null}
      </div>
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
  const { value, error } = useLoad((r) => r.deadLetter(id), [id]);
  if (value.state !== 'ok') return <LoadState value={value} error={error} loading={t.app.loading} />;
  const d = value.data;
  return (
    <div class="deadletter" data-testid="deadletter-detail">
      <h3>{d.payload.encoding === 'utf8' ? t.deadLetters.payload : t.deadLetters.payloadBase64}</h3>
      <pre class="payload" tabIndex={0}>
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
