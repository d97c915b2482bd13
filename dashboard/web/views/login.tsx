// Username and password; the session cookie is HttpOnly, only the CSRF token comes back to the page.

import { useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { useT } from '../i18n/context.js';
import { failureText, useTitle } from '../load.js';
import type { Session } from '../types.js';
import { FormError } from './forms.js';
import { LanguageSwitch } from './layout.js';

export function LoginPage({ api, onLoggedIn }: { api: Api; onLoggedIn: (session: Session) => void }) {
  const t = useT();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // Ticked when the login was for the wall board (`/login?next=/tavle`): that screen is the board's.
  const [board, setBoard] = useState(() => new URLSearchParams(location.search).get('next') === '/tavle');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  useTitle(t.login.title, t.app.name);

  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    if (username.trim() === '' || password === '') {
      setError(t.login.missing);
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      onLoggedIn(await api.login(username.trim(), password, board));
    } catch (err) {
      setPassword('');
      setError(failureText(err, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <header class="app-header">
        <div class="app-header__row">
          <span class="app-name">{t.app.name}</span>
          <LanguageSwitch />
        </div>
      </header>
      <main id="main" class="main main--narrow">
        <h1 tabIndex={-1}>{t.login.title}</h1>
        <p>{t.login.intro}</p>
        <form class="form" onSubmit={(e) => void submit(e)} noValidate>
          <FormError message={error} testId="login-error" />
          <div class="field">
            <label for="login-username">{t.login.username}</label>
            <input
              id="login-username"
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellcheck={false}
              required
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="login-password">{t.login.password}</label>
            <input
              id="login-password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </div>
          <div class="field field--check">
            <input
              id="login-board"
              name="board"
              type="checkbox"
              checked={board}
              aria-describedby="login-board-hint"
              onChange={(e) => setBoard(e.currentTarget.checked)}
            />
            <label for="login-board">{t.login.board}</label>
            <p id="login-board-hint" class="hint">
              {t.login.boardHint}
            </p>
          </div>
          <button type="submit" class="button button--primary button--wide" disabled={busy}>
            {busy ? t.login.submitting : t.login.submit}
          </button>
        </form>
      </main>
    </>
  );
}
