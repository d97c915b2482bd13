// Resolve with an outcome (and a note; required for "other", as the gateway requires).

import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { useT } from '../i18n/context.js';
import { failureText } from '../load.js';
import { navigate } from '../router.js';
import { OUTCOME_ORDER, type Outcome } from '../types.js';
import { FormError } from './forms.js';

const NOTE_MAX = 500;

export function ResolveForm({ alertId, focusOnMount }: { alertId: string; focusOnMount: boolean }) {
  const t = useT();
  const { feed, announce } = useApp();
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (focusOnMount) {
      headingRef.current?.scrollIntoView({ block: 'start' });
      headingRef.current?.focus();
    }
  }, [focusOnMount]);

  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    const text = note.trim();
    if (outcome === undefined) {
      setError(t.resolve.outcomeRequired);
      return;
    }
    if (outcome === 'other' && text === '') {
      setError(t.resolve.noteRequired);
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await feed.resolve(alertId, outcome, text === '' ? undefined : text);
      announce(t.alerts.announceResolved);
      navigate('/');
    } catch (err) {
      setError(t.resolve.failed(failureText(err, t)));
      setBusy(false);
    }
  }

  return (
    <section class="panel" aria-labelledby="resolve-title">
      <h2 id="resolve-title" tabIndex={-1} ref={headingRef}>
        {t.resolve.title}
      </h2>
      <form class="form" onSubmit={(e) => void submit(e)} noValidate data-testid="resolve-form">
        <FormError message={error} testId="resolve-error" />
        <fieldset class="choices">
          <legend>{t.resolve.outcome}</legend>
          {OUTCOME_ORDER.map((o) => (
            <label key={o} class="choice">
              <input type="radio" name="outcome" value={o} checked={outcome === o} onChange={() => setOutcome(o)} required />
              <span>{t.outcome[o]}</span>
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="resolve-note">{t.resolve.note}</label>
          <textarea
            id="resolve-note"
            name="note"
            rows={3}
            maxLength={NOTE_MAX}
            aria-describedby="resolve-note-hint"
            required={outcome === 'other'}
            value={note}
            onInput={(e) => setNote(e.currentTarget.value)}
          />
          <p class="hint" id="resolve-note-hint">
            {t.resolve.noteHint}
          </p>
        </div>
        <button type="submit" class="button button--primary button--wide" disabled={busy}>
          {busy ? t.resolve.submitting : t.resolve.submit}
        </button>
      </form>
    </section>
  );
}
