// Loading a resource for a page: the answer, the refusal in words, and a reload. A newer load replaces an
// older one still in flight (a filter changed), so a slow answer never overwrites a newer one.

import { useCallback, useEffect, useMemo, useRef, useState, type Inputs } from 'preact/hooks';
import { ApiError } from './api.js';
import { useApp } from './app-context.js';
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

export function useLoad<T>(load: (r: Resources) => Promise<T>, inputs: Inputs): { value: Loaded<T>; reload: () => void; error: unknown } {
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
  return { value, reload, error };
}

/** Sets the document title to "<page> – Tryggheim". */
export function useTitle(page: string, appName: string): void {
  useEffect(() => {
    document.title = `${page} – ${appName}`;
  }, [page, appName]);
}
