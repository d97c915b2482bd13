// Loading a resource for a page: the answer, the refusal in words, and a reload. A newer load replaces an
// older one still in flight (a filter changed), so a slow answer never overwrites a newer one. And the page's
// actions on it (replay, disable…): one outcome line at a time, in words.

import { useCallback, useEffect, useMemo, useRef, useState, type Inputs } from 'preact/hooks';
import { ApiError } from './api.js';
import { useApp } from './app-context.js';
import { useT } from './i18n/context.js';
import { errorText, type Messages } from './i18n/index.js';
import { resources, type Resources } from './resources.js';

export type Loaded<T> =
  { readonly state: 'loading' } | { readonly state: 'ok'; readonly data: T } | { readonly state: 'error'; readonly code: string };

export function codeOf(err: unknown): string {
  return err instanceof ApiError ? err.code : 'TRY_ERR_NETWORK';
}

/** The refusal in the reader's words; a 403 reads as "no access", whatever its code. */
export function failureText(err: unknown, t: Messages): string {
  if (err instanceof ApiError && err.status === 403 && err.code !== 'TRY_ERR_CSRF') return t.errors.byCode.TRY_ERR_FORBIDDEN;
  return errorText(codeOf(err), t);
}

export function useResources(): Resources {
  const { api } = useApp();
  return useMemo(() => resources(api), [api]);
}

export interface Load<T> {
  readonly value: Loaded<T>;
  readonly reload: () => void;
  readonly error: unknown;
  /** Changes the loaded data in place (a page appended, a row replaced) without loading it again. */
  readonly update: (fn: (data: T) => T) => void;
}

export function useLoad<T>(load: (r: Resources) => Promise<T>, inputs: Inputs): Load<T> {
  const r = useResources();
  const [value, setValue] = useState<Loaded<T>>({ state: 'loading' });
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    load(r).then(
      (data) => {
        if (mine === generation.current) setValue({ state: 'ok', data });
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setError(err);
        setValue({ state: 'error', code: codeOf(err) });
      },
    );
  }, [r, tick, ...inputs]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const update = useCallback((fn: (data: T) => T) => setValue((v) => (v.state === 'ok' ? { state: 'ok', data: fn(v.data) } : v)), []);
  return { value, reload, error, update };
}

export interface ActionMessage {
  readonly text: string;
  readonly error: boolean;
}

/**
 * A page's actions (disable a device, replay a dead letter…): `run` clears the last outcome, runs the action and
 * shows what it returns (nothing for undefined), or the refusal in words (`failed` wraps it: "Ikke utført: …").
 */
export function useAction(failed: (reason: string) => string): {
  message: ActionMessage | undefined;
  run: (action: () => Promise<string | undefined>) => Promise<boolean>;
} {
  const t = useT();
  const [message, setMessage] = useState<ActionMessage | undefined>(undefined);
  const run = useCallback(
    async (action: () => Promise<string | undefined>) => {
      setMessage(undefined);
      try {
        const text = await action();
        setMessage(text === undefined ? undefined : { text, error: false });
        return true;
      } catch (err) {
        setMessage({ text: failed(failureText(err, t)), error: true });
        return false;
      }
    },
    [failed, t],
  );
  return { message, run };
}

/** Sets the document title to "<page> – Tryggheim". */
export function useTitle(page: string, appName: string): void {
  useEffect(() => {
    document.title = `${page} – ${appName}`;
  }, [page, appName]);
}
